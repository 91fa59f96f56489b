#!/usr/bin/env bash
# A local 3-node Apache Kafka 3.9 cluster (KRaft; every node is broker and controller, a static
# 3-voter controller quorum) on 127.0.0.1, for tests that need replication and fail-over. It runs
# beside the single broker of scripts/kafka.sh on its own ports and folder. See docs/kafka.md.
#   scripts/kafka.sh cluster start | stop | status | reset | kill N | restart N | leader TOPIC PARTITION
# status exits 0 when all nodes run and answer, 1 when none runs, 3 otherwise (degraded).
# Environment (defaults in brackets):
#   CLIPN_KAFKA_CLUSTER_PORT [19092]             listener of node 1; node N listens on PORT+N-1
#   CLIPN_KAFKA_CLUSTER_CONTROLLER_PORT [19192]  controller listener of node 1; node N on +N-1
#   CLIPN_KAFKA_CLUSTER_HEAP [512m]              JVM maximum heap of each node
#   CLIPN_KAFKA_CLUSTER_PARTITIONS [3]           partitions of auto-created topics
#   CLIPN_KAFKA_CLUSTER_START_TIMEOUT [120]      seconds to wait for the nodes to answer
#   CLIPN_KAFKA_CLUSTER_STOP_TIMEOUT [30]        seconds of graceful shutdown before SIGKILL
#   CLIPN_KAFKA_CLUSTER_DATA_DIR [.kafka-cluster]  config, logs and data, broker-N/ per node (gitignored)
#   CLIPN_KAFKA_TOOLS_DIR [.tools/kafka]         the jars (shared with scripts/kafka.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${CLIPN_KAFKA_TOOLS_DIR:-$root/.tools/kafka}"
data="${CLIPN_KAFKA_CLUSTER_DATA_DIR:-$root/.kafka-cluster}"
port0="${CLIPN_KAFKA_CLUSTER_PORT:-19092}"
cport0="${CLIPN_KAFKA_CLUSTER_CONTROLLER_PORT:-19192}"
heap="${CLIPN_KAFKA_CLUSTER_HEAP:-512m}"
partitions="${CLIPN_KAFKA_CLUSTER_PARTITIONS:-3}"
start_timeout="${CLIPN_KAFKA_CLUSTER_START_TIMEOUT:-120}"
stop_timeout="${CLIPN_KAFKA_CLUSTER_STOP_TIMEOUT:-30}"
nodes=(1 2 3)

fail() { echo "kafka.sh cluster: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "expected '$1' on PATH ($2), found none"; }
for v in port0 cport0 partitions start_timeout stop_timeout; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || fail "expected a whole number for $v, got '${!v}'"
done
[ $((port0 + 2)) -le 65535 ] && [ $((cport0 + 2)) -le 65535 ] || fail "expected ports up to 65533, got $port0 and $cport0"
if [ "$port0" -lt $((cport0 + 3)) ] && [ "$cport0" -lt $((port0 + 3)) ]; then
  fail "expected the listener ports ($port0-$((port0 + 2))) and controller ports ($cport0-$((cport0 + 2))) not to overlap"
fi

port_of() { echo $((port0 + $1 - 1)); }
cport_of() { echo $((cport0 + $1 - 1)); }
dir_of() { echo "$data/broker-$1"; }
brokers() { local n out=(); for n in "${nodes[@]}"; do out+=("127.0.0.1:$(port_of "$n")"); done; (IFS=,; echo "${out[*]}"); }
voters() { local n out=(); for n in "${nodes[@]}"; do out+=("$n@127.0.0.1:$(cport_of "$n")"); done; (IFS=,; echo "${out[*]}"); }
# The data layout this script formats; folders formatted another way are reformatted.
layout="kraft-static-voters $(voters)"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
seconds_since() { local ms=$(( $(now_ms) - $1 )); echo "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"; }

node_id() {
  [[ "${1:-}" =~ ^[1-3]$ ]] || fail "expected a node id 1, 2 or 3, got '${1:-}'"
}

pid_of() { cat "$(dir_of "$1")/broker.pid" 2>/dev/null || true; }

# True when node N's recorded pid is alive and is that node's JVM (a reused pid is not).
running() {
  local pid; pid="$(pid_of "$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && ps -p "$pid" -o args= 2>/dev/null | grep -q "kafka.Kafka $(dir_of "$1")/server.properties"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

probe() { node "$root/scripts/kafka/probe.mjs" "127.0.0.1:$(port_of "$1")" "$2" ${3:+"$3"}; }
admin() { node "$root/scripts/kafka/cluster.mjs" "$@"; }

# The active controller: the leader in the newest quorum-state of a running node (-1 during an election).
controller() {
  local n best_epoch=-1 best=-1 state epoch leader
  for n in "${nodes[@]}"; do
    running "$n" || continue
    state="$(cat "$(dir_of "$n")/logs/__cluster_metadata-0/quorum-state" 2>/dev/null || true)"
    epoch="$(sed -n 's/.*"leaderEpoch":\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$state")"
    leader="$(sed -n 's/.*"leaderId":\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$state")"
    [ -n "$epoch" ] && [ -n "$leader" ] && [ "$epoch" -gt "$best_epoch" ] && { best_epoch="$epoch"; best="$leader"; }
  done
  echo "$best"
}

write_config() {
  local n="$1" dir; dir="$(dir_of "$1")"
  mkdir -p "$dir/logs"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(voters)
listeners=PLAINTEXT://127.0.0.1:$(port_of "$n"),CONTROLLER://127.0.0.1:$(cport_of "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(port_of "$n")
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/logs
num.partitions=$partitions
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
unclean.leader.election.enable=false
# Compacted side channels in tests: let the cleaner look often.
log.cleaner.backoff.ms=1000
PROPS
  cat > "$dir/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/broker.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
PROPS
}

jvm() { echo "-Xmx$heap -Xms128m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Dlog4j.configuration=file:$(dir_of "$1")/log4j.properties"; }

# Formats the nodes whose log folder is empty, all with the cluster's id. A folder formatted for
# another layout means a new cluster: every node is reformatted (only while none runs).
format() {
  local n id dir pids=() failed=0
  if [ "$(cat "$data/layout" 2>/dev/null)" != "$layout" ]; then
    for n in "${nodes[@]}"; do running "$n" && fail "node $n runs on data of another layout; run 'scripts/kafka.sh cluster reset' first"; done
    if ls "$data"/broker-*/logs/meta.properties >/dev/null 2>&1; then echo "the data in $data was formatted for another layout; reformatting (test data only)"; fi
    for n in "${nodes[@]}"; do rm -rf "$(dir_of "$n")/logs"; mkdir -p "$(dir_of "$n")/logs"; done
    # A cluster id is a base64url UUID (what `StorageTool random-uuid` prints), without a JVM start.
    # It can start with "-", hence --cluster-id= below: `-t -x...` reads as a missing argument.
    head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > "$data/cluster.id"
    echo "$layout" > "$data/layout"
  fi
  id="$(cat "$data/cluster.id")"
  for n in "${nodes[@]}"; do
    dir="$(dir_of "$n")"
    [ -f "$dir/logs/meta.properties" ] && continue
    # Static voters (controller.quorum.voters): no --standalone / --initial-controllers.
    # shellcheck disable=SC2046
    java $(jvm "$n") -cp "$tools/libs/*" kafka.tools.StorageTool format --cluster-id="$id" -c "$dir/server.properties" >>"$dir/broker.log" 2>&1 &
    pids+=("$!:$n")
  done
  for p in "${pids[@]}"; do
    wait "${p%%:*}" || { failed=1; tail -20 "$(dir_of "${p#*:}")/broker.log" >&2; echo "formatting node ${p#*:} failed (log above)" >&2; }
  done
  [ "$failed" -eq 0 ] || fail "formatting the KRaft log folders in $data failed"
}

# Starts node N's JVM in the background (its config written first); records its pid.
launch() {
  local n="$1" dir; dir="$(dir_of "$1")"
  # setsid: the node outlives this shell and a Ctrl-C in it; 9>&-: it must not keep the lock.
  # shellcheck disable=SC2046
  setsid nohup java $(jvm "$n") -cp "$tools/libs/*" kafka.Kafka "$dir/server.properties" >>"$dir/broker.log" 2>&1 </dev/null 9>&- &
  echo "$!" > "$dir/broker.pid"
}

# Stops node N: SIGTERM, then SIGKILL after the stop timeout. Prints what happened.
stop_node() {
  local n="$1" pid deadline
  if ! running "$n"; then rm -f "$(dir_of "$n")/broker.pid"; echo "node $n not running"; return 0; fi
  pid="$(pid_of "$n")"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( $(date +%s) + stop_timeout ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$(dir_of "$n")/broker.pid"; echo "node $n killed after ${stop_timeout} s of graceful shutdown"; return 0
    fi
    sleep 0.2 # poll interval, bounded by the deadline above
  done
  rm -f "$(dir_of "$n")/broker.pid"; echo "node $n stopped"
}

# Waits until the given nodes answer and the cluster lists all of its brokers, within the start
# timeout from $2 (ms since the epoch). On failure prints the end of the logs and returns 1.
await_nodes() {
  local t0="$1" n p pids=() failed=() left
  shift
  left=$(( start_timeout * 1000 - ($(now_ms) - t0) )); [ "$left" -gt 0 ] || left=1
  for n in "$@"; do probe "$n" "$left" "$(pid_of "$n")" >"$data/probe-$n.out" 2>&1 & pids+=("$!:$n"); done
  for p in "${pids[@]}"; do wait "${p%%:*}" || failed+=("${p#*:}"); done
  if [ "${#failed[@]}" -eq 0 ]; then
    left=$(( start_timeout * 1000 - ($(now_ms) - t0) )); [ "$left" -gt 0 ] || left=1
    admin ready "$(brokers)" "${#nodes[@]}" "$left" >"$data/probe-cluster.out" 2>&1 || failed+=(cluster)
  fi
  [ "${#failed[@]}" -eq 0 ] && { rm -f "$data"/probe-*.out; return 0; }
  for n in "${failed[@]}"; do
    if [ "$n" = cluster ]; then echo "the cluster did not list all ${#nodes[@]} brokers: $(cat "$data/probe-cluster.out")" >&2; continue; fi
    echo "node $n did not come up ($(cat "$data/probe-$n.out")); last lines of $(dir_of "$n")/broker.log:" >&2
    tail -30 "$(dir_of "$n")/broker.log" >&2
  done
  rm -f "$data"/probe-*.out
  return 1
}

lock() {
  mkdir -p "$data"
  # One change at a time: concurrent starts would race for the ports.
  if command -v flock >/dev/null 2>&1; then exec 9>"$data/cluster.lock"; flock -w "$((start_timeout + stop_timeout + 30))" 9 || fail "another run holds $data/cluster.lock"; fi
}

summary() {
  local n out=()
  for n in "${nodes[@]}"; do out+=("node $n 127.0.0.1:$(port_of "$n") pid $(pid_of "$n")"); done
  (IFS=';'; echo "${out[*]}" | sed 's/;/; /g')
}

# Starts the nodes that are not running (all of them, or those killed earlier, on their data).
start() {
  CLIPN_KAFKA_TOOLS_DIR="$tools" bash "$root/scripts/kafka.sh" fetch >/dev/null
  lock
  local n missing=() t0
  for n in "${nodes[@]}"; do running "$n" || missing+=("$n"); done
  if [ "${#missing[@]}" -eq 0 ]; then
    admin ready "$(brokers)" "${#nodes[@]}" "$((start_timeout * 1000))" >/dev/null || fail "all nodes run but the cluster does not list all ${#nodes[@]} brokers (see $data/broker-*/broker.log)"
    echo "cluster already running: $(summary); active controller: node $(controller)"; return 0
  fi
  need java "a Java 17+ runtime runs the brokers"
  need node "the readiness probe uses kafkajs"
  for n in "${missing[@]}"; do
    for p in "$(port_of "$n")" "$(cport_of "$n")"; do
      port_taken "$p" && fail "port $p on 127.0.0.1 (node $n) is already in use by another process; set CLIPN_KAFKA_CLUSTER_PORT / CLIPN_KAFKA_CLUSTER_CONTROLLER_PORT"
    done
  done
  t0="$(now_ms)"
  for n in "${nodes[@]}"; do write_config "$n"; done
  # Appended, not truncated: the log of a killed node keeps its last words.
  for n in "${missing[@]}"; do echo "=== kafka.sh cluster start $(date -u +%FT%TZ)" >> "$(dir_of "$n")/broker.log"; done
  format
  for n in "${missing[@]}"; do launch "$n"; done
  if ! await_nodes "$t0" "${nodes[@]}"; then
    echo "the cluster did not come up within ${start_timeout} s; stopping the nodes this start launched" >&2
    for n in "${missing[@]}"; do stop_node "$n" >/dev/null || true; done
    exit 1
  fi
  echo "Apache Kafka $(cat "$tools/VERSION") cluster up in $(seconds_since "$t0") s (started node(s) ${missing[*]}): $(summary); active controller: node $(controller); data $data"
}

stop() {
  lock
  local n pids=()
  # In parallel: each node's controlled shutdown still finds a controller quorum.
  for n in "${nodes[@]}"; do stop_node "$n" & pids+=("$!"); done
  for n in "${pids[@]}"; do wait "$n" || true; done
}

status() {
  local n up=0 answering=0
  for n in "${nodes[@]}"; do
    if ! running "$n"; then echo "node $n: not running (127.0.0.1:$(port_of "$n"))"; continue; fi
    up=$((up + 1))
    if probe "$n" 3000 >/dev/null 2>&1; then answering=$((answering + 1)); echo "node $n: running (pid $(pid_of "$n")) on 127.0.0.1:$(port_of "$n"), answering"
    else echo "node $n: running (pid $(pid_of "$n")) on 127.0.0.1:$(port_of "$n"), not answering"; fi
  done
  [ "$up" -eq 0 ] && { echo "cluster not running"; return 1; }
  echo "active controller: node $(controller)"
  [ "$answering" -eq "${#nodes[@]}" ] || { echo "cluster degraded: $answering of ${#nodes[@]} nodes answering"; return 3; }
}

# kill -9 of node N, as a crash; returns once the process is gone.
kill_node() {
  node_id "${1:-}"
  lock
  local n="$1" pid t0
  running "$n" || fail "node $n is not running"
  pid="$(pid_of "$n")"; t0="$(now_ms)"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    [ $(( $(now_ms) - t0 )) -lt 10000 ] || fail "node $n (pid $pid) still exists 10 s after SIGKILL"
    sleep 0.05 # poll interval, bounded above
  done
  rm -f "$(dir_of "$n")/broker.pid"
  echo "node $n (pid $pid, 127.0.0.1:$(port_of "$n")) killed with SIGKILL"
}

# Stops node N if it runs, then starts it on its data and waits until the cluster lists it again.
restart_node() {
  node_id "${1:-}"
  CLIPN_KAFKA_TOOLS_DIR="$tools" bash "$root/scripts/kafka.sh" fetch >/dev/null
  lock
  local n="$1" t0 p
  [ -f "$(dir_of "$n")/logs/meta.properties" ] || fail "node $n has no formatted data in $(dir_of "$n"); run 'scripts/kafka.sh cluster start'"
  running "$n" && stop_node "$n"
  for p in "$(port_of "$n")" "$(cport_of "$n")"; do
    port_taken "$p" && fail "port $p on 127.0.0.1 (node $n) is already in use by another process"
  done
  t0="$(now_ms)"
  write_config "$n"
  echo "=== kafka.sh cluster restart $n $(date -u +%FT%TZ)" >> "$(dir_of "$n")/broker.log"
  launch "$n"
  if ! await_nodes "$t0" "$n"; then stop_node "$n" >/dev/null || true; fail "node $n did not come back within ${start_timeout} s"; fi
  echo "node $n back in $(seconds_since "$t0") s (pid $(pid_of "$n"), 127.0.0.1:$(port_of "$n")); active controller: node $(controller)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$data"; echo "cluster data removed ($data)" ;;
  kill) kill_node "${2:-}" ;;
  restart) restart_node "${2:-}" ;;
  leader) [ "$#" -eq 3 ] && [[ "$3" =~ ^[0-9]+$ ]] || fail "usage: leader TOPIC PARTITION"; admin leader "$(brokers)" "$2" "$3" ;;
  brokers) brokers ;;
  *) echo "usage: $0 cluster start|stop|status|reset|kill N|restart N|leader TOPIC PARTITION|brokers" >&2; exit 2 ;;
esac
