#!/usr/bin/env bash
# A local Label Studio (open-source labelling tool) on 127.0.0.1 for the label-studio plugin's
# tests, demos and local development: installed from PyPI into its own venv, data in its own
# folder (SQLite), a user and an API token created at start-up. No Docker.
#   scripts/label-studio.sh fetch | start | stop | status | reset | env | lock
# fetch installs scripts/label-studio/requirements.lock (every package pinned with its sha256;
# `lock` rewrites it from the installed venv's versions).
# status exits 0 when running and answering /health, 1 when not running, 3 when running but not
# answering. `env` prints the URL, user and token as shell assignments (for scripts and tests).
# Environment (defaults in brackets):
#   CLIPN_LABEL_STUDIO_VENV [.tools/label-studio-venv]  the venv (about 1 GB; gitignored)
#   CLIPN_LABEL_STUDIO_DATA_DIR [.cache/label-studio]   database, media, log, token (gitignored)
#   CLIPN_LABEL_STUDIO_PORT [8089]                      HTTP port on 127.0.0.1
#   CLIPN_LABEL_STUDIO_USERNAME [clipn@example.com]     the user created at start-up (an e-mail)
#   CLIPN_LABEL_STUDIO_PASSWORD [random, kept]          its password (kept in <data>/password)
#   CLIPN_LABEL_STUDIO_TOKEN [random, kept]             its legacy API token, 40 hex (kept in <data>/token)
#   CLIPN_LABEL_STUDIO_START_TIMEOUT [240]              seconds to wait for /health (40-60 s on 2 cores)
#   CLIPN_LABEL_STUDIO_STOP_TIMEOUT [30]                seconds of graceful shutdown before SIGKILL
#   PYTHON [python3]                                    the interpreter the venv is made from (3.10-3.12)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
LABEL_STUDIO_VERSION=1.23.2
venv="${CLIPN_LABEL_STUDIO_VENV:-$root/.tools/label-studio-venv}"
data="${CLIPN_LABEL_STUDIO_DATA_DIR:-$root/.cache/label-studio}"
port="${CLIPN_LABEL_STUDIO_PORT:-8089}"
username="${CLIPN_LABEL_STUDIO_USERNAME:-clipn@example.com}"
start_timeout="${CLIPN_LABEL_STUDIO_START_TIMEOUT:-240}"
stop_timeout="${CLIPN_LABEL_STUDIO_STOP_TIMEOUT:-30}"
pidfile="$data/label-studio.pid"
log="$data/label-studio.log"
lockfile="$root/scripts/label-studio/requirements.lock"
# A new lock means a new install.
stamp="$venv/.clipn-label-studio-$LABEL_STUDIO_VERSION-$(sha256sum "$lockfile" | cut -c1-12)"

fail() { echo "label-studio.sh: $*" >&2; exit 1; }
for v in port start_timeout stop_timeout; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || fail "expected a whole number for $v, got '${!v}'"
done

fetch() {
  if [ -f "$stamp" ] && [ -x "$venv/bin/label-studio" ]; then
    echo "Label Studio $LABEL_STUDIO_VERSION already in $venv"; return 0
  fi
  local python="${PYTHON:-python3}"
  command -v "$python" >/dev/null 2>&1 || fail "expected '$python' on PATH (set PYTHON), found none"
  echo "installing label-studio==$LABEL_STUDIO_VERSION from PyPI (scripts/label-studio/requirements.lock, hashed) into $venv (about 1 GB, a few minutes)"
  local t0; t0="$(date +%s)"
  # Build into a fresh folder and swap it in, so an interrupted install never looks complete.
  # A venv records its own path, so it is built where it will live, after moving the old one aside.
  rm -rf "$venv.old"
  [ -d "$venv" ] && mv "$venv" "$venv.old"
  mkdir -p "$(dirname "$venv")"
  if ! { "$python" -m venv "$venv" \
    && "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip==26.3 \
    && "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$lockfile"; }; then
    rm -rf "$venv"
    [ -d "$venv.old" ] && mv "$venv.old" "$venv"
    fail "pip could not install label-studio==$LABEL_STUDIO_VERSION (see the output above)"
  fi
  rm -rf "$venv.old"
  touch "$stamp"
  echo "Label Studio $LABEL_STUDIO_VERSION installed in $(( $(date +%s) - t0 )) s"
}

# A secret kept in the data folder (made once), unless the environment gives one.
secret() { # NAME FILE GENERATOR
  local value="${!1:-}"
  if [ -z "$value" ]; then
    if [ -s "$2" ]; then value="$(cat "$2")"; else value="$($3)"; fi
  fi
  (umask 077; printf '%s' "$value" > "$2")
  printf '%s' "$value"
}
hex40() { head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
password() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }

# True when the recorded pid is alive and is our Label Studio (a reused pid is not).
running() {
  [ -f "$pidfile" ] || return 1
  local pid; pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "label-studio start"
}

healthy() { curl -fsS -m 3 -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  fetch >/dev/null
  mkdir -p "$data"
  if command -v flock >/dev/null 2>&1; then exec 9>"$data/start.lock"; flock -w "$((start_timeout + 30))" 9 || fail "another start holds $data/start.lock"; fi
  local token pw
  token="$(secret CLIPN_LABEL_STUDIO_TOKEN "$data/token" hex40)"
  pw="$(secret CLIPN_LABEL_STUDIO_PASSWORD "$data/password" password)"
  [[ "$token" =~ ^[0-9a-f]{40}$ ]] || fail "expected the token to be 40 lower-case hex characters, got ${#token} characters"
  if running; then
    wait_healthy "$(cat "$pidfile")" || fail "Label Studio pid $(cat "$pidfile") runs but does not answer on 127.0.0.1:$port (see $log)"
    echo "Label Studio already running (pid $(cat "$pidfile")) on http://127.0.0.1:$port"; return 0
  fi
  port_taken "$port" && fail "port $port on 127.0.0.1 is already in use by another process; set CLIPN_LABEL_STUDIO_PORT"
  local t0; t0="$(date +%s%N)"
  echo "== start $(date -u +%FT%TZ)" >> "$log"
  # setsid: it outlives this shell and a Ctrl-C in it; 9>&-: it must not keep the start lock.
  # The legacy token flag: 1.23 refuses `Authorization: Token` on a new data folder without it.
  # SSRF protection off: this local instance must call webhooks on 127.0.0.1 (the plugin's
  # endpoint); it listens on 127.0.0.1 only. No version check, analytics or error reports: it
  # runs offline in CI.
  LABEL_STUDIO_BASE_DATA_DIR="$data/base" \
  LABEL_STUDIO_USERNAME="$username" LABEL_STUDIO_PASSWORD="$pw" LABEL_STUDIO_USER_TOKEN="$token" \
  LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true \
  SSRF_PROTECTION_ENABLED=false LATEST_VERSION_CHECK=false COLLECT_ANALYTICS=false \
  SENTRY_DSN= FRONTEND_SENTRY_DSN= \
    setsid nohup "$venv/bin/label-studio" start --no-browser --host "http://127.0.0.1:$port" --internal-host 127.0.0.1 --port "$port" \
    >>"$log" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid" > "$pidfile"
  if ! wait_healthy "$pid"; then
    echo "Label Studio did not come up within ${start_timeout} s; last lines of $log:" >&2
    tail -30 "$log" >&2
    stop >/dev/null || true
    exit 1
  fi
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "Label Studio $LABEL_STUDIO_VERSION up on http://127.0.0.1:$port in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s (pid $pid, log $log)"
}

wait_healthy() { # PID
  local deadline=$(( $(date +%s) + start_timeout ))
  until healthy; do
    kill -0 "$1" 2>/dev/null || { echo "Label Studio (pid $1) exited" >&2; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 1 # poll interval, bounded by the deadline above
  done
}

stop() {
  if ! running; then rm -f "$pidfile"; echo "Label Studio not running"; return 0; fi
  local pid; pid="$(cat "$pidfile")"
  # The process group: label-studio runs its web server as the same process, but be thorough.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + stop_timeout ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      rm -f "$pidfile"; echo "Label Studio killed after ${stop_timeout} s of graceful shutdown"; return 0
    fi
    sleep 0.2 # poll interval, bounded by the deadline above
  done
  rm -f "$pidfile"; echo "Label Studio stopped"
}

status() {
  if ! running; then echo "not running"; return 1; fi
  if healthy; then echo "running (pid $(cat "$pidfile")) on http://127.0.0.1:$port, answering"
  else echo "running (pid $(cat "$pidfile")) on http://127.0.0.1:$port, not answering"; return 3; fi
}

print_env() {
  [ -s "$data/token" ] || fail "no token yet in $data: run start first"
  printf 'LABEL_STUDIO_URL=%q\nLABEL_STUDIO_USERNAME=%q\nLABEL_STUDIO_PASSWORD=%q\nLABEL_STUDIO_TOKEN=%q\n' \
    "http://127.0.0.1:$port" "$username" "$(cat "$data/password")" "$(cat "$data/token")"
}

# Rewrites the hashed lock: label-studio==VERSION resolved by uv within the installed venv's
# versions (the ones the tests ran against), for CPython 3.11 on linux x86_64.
lock() {
  local uv_version=0.13.8 tools="$root/.cache/lock-tools" freeze input
  [ -x "$venv/bin/pip" ] || fail "expected an installed venv in $venv to take the versions from: run fetch first"
  if [ ! -x "$tools/bin/uv" ] || [ "$("$tools/bin/uv" --version | cut -d' ' -f2)" != "$uv_version" ]; then
    python3 -m venv "$tools" && "$tools/bin/pip" install --quiet "uv==$uv_version"
  fi
  freeze="$(mktemp)"; input="$(mktemp)"
  "$venv/bin/pip" freeze --all --disable-pip-version-check > "$freeze"
  echo "label-studio==$LABEL_STUDIO_VERSION" > "$input"
  {
    printf '# scripts/label-studio/requirements.lock: hashed lock of Label Studio %s and its dependencies for CPython 3.11, linux x86_64.\n' "$LABEL_STUDIO_VERSION"
    printf "# Written by \`scripts/label-studio.sh lock\` (uv %s, the tested venv's versions as constraints); installed by\n" "$uv_version"
    printf '# `scripts/label-studio.sh fetch` with pip install --require-hashes.\n'
    env -u PIP_FIND_LINKS "$tools/bin/uv" pip compile "$input" -c "$freeze" --generate-hashes --no-annotate --no-header \
      --python-version 3.11 --python-platform x86_64-manylinux_2_28 --index-url https://pypi.org/simple --quiet -o "$lockfile.body"
    cat "$lockfile.body"
  } > "$lockfile.tmp"
  mv "$lockfile.tmp" "$lockfile"; rm -f "$freeze" "$input" "$lockfile.body"
  echo "wrote $lockfile ($(grep -c '^[a-z]' "$lockfile") packages)"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  reset) stop; rm -rf "$data"; echo "Label Studio data removed ($data)" ;;
  lock) lock ;;
  *) echo "usage: $0 fetch|start|stop|status|reset|env|lock" >&2; exit 2 ;;
esac
