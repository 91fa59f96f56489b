#!/usr/bin/env bash
# Runs a command with the local broker up: starts it if it is not running, and stops it
# afterwards only if this script started it. The command's exit code is kept.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
started=0
if ! bash "$here/kafka.sh" status >/dev/null 2>&1; then
  bash "$here/kafka.sh" start || exit 1
  started=1
fi
"$@"
rc=$?
[ "$started" -eq 1 ] && bash "$here/kafka.sh" stop
exit $rc
