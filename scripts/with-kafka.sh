#!/usr/bin/env bash
# Runs a command with the local broker up: starts it when it is not running, and stops it
# afterwards only if this script started it (also on Ctrl-C or SIGTERM). The command's exit
# code is kept.   scripts/with-kafka.sh CMD [ARGS...]
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/node-env.sh"
[ "$#" -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
started=0
bash "$here/kafka.sh" status >/dev/null 2>&1
case $? in
  0) ;;
  1) bash "$here/kafka.sh" start || exit 1; started=1 ;;
  *) bash "$here/kafka.sh" start || exit 1 ;; # running but slow to answer: wait, not ours to stop
esac
cleanup() { [ "$started" -eq 1 ] && bash "$here/kafka.sh" stop; started=0; }
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
"$@"
rc=$?
cleanup
exit $rc
