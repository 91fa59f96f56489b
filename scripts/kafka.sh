#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker and controller in one JVM) on 127.0.0.1
# for tests, CI, the demo and local development; no Docker. Kafka 3.9.x: kafkajs 2.2.4 speaks
# its protocol versions (Kafka 4.0 removed older ones). See docs/kafka.md.
#   scripts/kafka.sh fetch | start | stop | status | reset
#   scripts/kafka.sh cluster start | stop | status | reset | kill N | restart N | leader TOPIC PARTITION
#     a 3-node cluster for replication tests, on its own ports and folder (scripts/kafka/cluster.sh)
# status exits 0 when running and answering, 1 when not running, 3 when running but not answering.
# Environment (defaults in brackets):
#   CLIPN_KAFKA_PORT [9092]            PLAINTEXT listener on 127.0.0.1
#   CLIPN_KAFKA_CONTROLLER_PORT [9093] KRaft controller listener on 127.0.0.1
#   CLIPN_KAFKA_HEAP [768m]            JVM maximum heap
#   CLIPN_KAFKA_PARTITIONS [3]         partitions of auto-created topics
#   CLIPN_KAFKA_AUTO_CREATE [true]      auto.create.topics.enable (false: a missing topic stays missing)
#   CLIPN_KAFKA_START_TIMEOUT [60]     seconds to wait for the broker to answer
#   CLIPN_KAFKA_STOP_TIMEOUT [30]      seconds of graceful shutdown before SIGKILL
#   CLIPN_KAFKA_TOOLS_DIR [.tools/kafka]  where the jars go (gitignored)
#   CLIPN_KAFKA_DATA_DIR [.kafka]         config, log and data (gitignored)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/node-env.sh"
tools="${CLIPN_KAFKA_TOOLS_DIR:-$root/.tools/kafka}"
data="${CLIPN_KAFKA_DATA_DIR:-$root/.kafka}"
port="${CLIPN_KAFKA_PORT:-9092}"
cport="${CLIPN_KAFKA_CONTROLLER_PORT:-9093}"
heap="${CLIPN_KAFKA_HEAP:-768m}"
partitions="${CLIPN_KAFKA_PARTITIONS:-3}"
auto_create="${CLIPN_KAFKA_AUTO_CREATE:-true}"
start_timeout="${CLIPN_KAFKA_START_TIMEOUT:-60}"
stop_timeout="${CLIPN_KAFKA_STOP_TIMEOUT:-30}"
pom="$root/scripts/kafka/pom.xml"
pidfile="$data/broker.pid"
log="$data/broker.log"
# The data layout this script formats; a folder formatted another way is reformatted.
layout="kraft-standalone controller=127.0.0.1:$cport"

fail() { echo "kafka.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "expected '$1' on PATH ($2), found none"; }
for v in port cport partitions start_timeout stop_timeout; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || fail "expected a whole number for $v, got '${!v}'"
done
[[ "$auto_create" =~ ^(true|false)$ ]] || fail "expected true or false for CLIPN_KAFKA_AUTO_CREATE, got '$auto_create'"

version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom"; }

fetch() {
  local want; want="$(version)"
  [ -n "$want" ] || fail "no <kafka.version> in $pom"
  if [ "$(cat "$tools/VERSION" 2>/dev/null)" = "$want" ] && [ -f "$tools/libs/kafka_2.13-$want.jar" ]; then
    echo "Apache Kafka $want already in $tools"; return 0
  fi
  need mvn "Maven fetches the broker jars from Maven Central"
  echo "fetching Apache Kafka $want from Maven Central into $tools"
  # Copy into a fresh folder and swap it in, so an interrupted fetch never looks complete.
  local tmp="$tools.partial"
  rm -rf "$tmp" && mkdir -p "$tmp/libs"
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DoutputDirectory="$tmp/libs" -DincludeScope=runtime \
    || fail "mvn could not resolve org.apache.kafka:kafka_2.13:$want (see the output above)"
  [ -f "$tmp/libs/kafka_2.13-$want.jar" ] || fail "expected $tmp/libs/kafka_2.13-$want.jar after mvn, found none"
  echo "$want" > "$tmp/VERSION"
  rm -rf "$tools" && mv "$tmp" "$tools"
  echo "fetched $(ls "$tools/libs" | wc -l) jars"
}

# True when the recorded pid is alive and is our broker (a reused pid is not).
running() {
  [ -f "$pidfile" ] || return 1
  local pid; pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && ps -p "$pid" -o args= 2>/dev/null | grep -q "kafka.Kafka $data/server.properties"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

probe() { node "$root/scripts/kafka/probe.mjs" "127.0.0.1:$port" "$1" ${2:+"$2"}; }

write_config() {
  mkdir -p "$data/logs"
  cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data/logs
num.partitions=$partitions
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=$auto_create
# Compacted side channels in tests: let the cleaner look often.
log.cleaner.backoff.ms=1000
PROPS
  cat > "$data/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
PROPS
}

jvm=(-Xmx"$heap" -Xms256m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  "-Dlog4j.configuration=file:$data/log4j.properties" -cp "$tools/libs/*")

format() {
  if [ -f "$data/logs/meta.properties" ] && [ "$(cat "$data/layout" 2>/dev/null)" = "$layout" ]; then return 0; fi
  if [ -f "$data/logs/meta.properties" ]; then
    echo "the data in $data/logs was formatted for another layout; reformatting (test data only)"
    rm -rf "$data/logs" && mkdir -p "$data/logs"
  fi
  # A cluster id is a base64url UUID (what `StorageTool random-uuid` prints), without a JVM start.
  # It can start with "-", hence --cluster-id=: `-t -x...` reads as a missing argument.
  local id; id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  java "${jvm[@]}" kafka.tools.StorageTool format --cluster-id="$id" -c "$data/server.properties" --standalone >>"$log" 2>&1 \
    || { tail -20 "$log" >&2; fail "formatting the KRaft log folder $data/logs failed (log above)"; }
  echo "$layout" > "$data/layout"
}

start() {
  fetch >/dev/null
  mkdir -p "$data"
  # One start at a time: concurrent test runs would otherwise race for the ports.
  if command -v flock >/dev/null 2>&1; then exec 9>"$data/start.lock"; flock -w "$((start_timeout + 30))" 9 || fail "another start holds $data/start.lock"; fi
  if running; then
    probe "$((start_timeout * 1000))" "$(cat "$pidfile")" >/dev/null || fail "broker pid $(cat "$pidfile") runs but does not answer on 127.0.0.1:$port (see $log)"
    echo "broker already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; return 0
  fi
  need java "a Java 17+ runtime runs the broker"
  need node "the readiness probe uses kafkajs"
  for p in "$port" "$cport"; do port_taken "$p" && fail "port $p on 127.0.0.1 is already in use by another process; set CLIPN_KAFKA_PORT / CLIPN_KAFKA_CONTROLLER_PORT"; done
  local t0; t0="$(date +%s%N)"
  write_config
  : > "$log"
  format
  # setsid: the broker outlives this shell and a Ctrl-C in it; 9>&-: it must not keep the start lock.
  setsid nohup java "${jvm[@]}" kafka.Kafka "$data/server.properties" >>"$log" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid" > "$pidfile"
  local rc=0
  probe "$((start_timeout * 1000))" "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "broker did not come up (probe exit $rc); last lines of $log:" >&2
    tail -30 "$log" >&2
    stop >/dev/null || true
    exit 1
  fi
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "Apache Kafka $(cat "$tools/VERSION") up on 127.0.0.1:$port in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s (pid $pid, log $log)"
}

stop() {
  if ! running; then rm -f "$pidfile"; echo "broker not running"; return 0; fi
  local pid; pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + stop_timeout ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$pidfile"; echo "broker killed after ${stop_timeout} s of graceful shutdown"; return 0
    fi
    sleep 0.2 # poll interval, bounded by the deadline above
  done
  rm -f "$pidfile"; echo "broker stopped"
}

status() {
  if ! running; then echo "not running"; return 1; fi
  if probe 3000 >/dev/null 2>&1; then echo "running (pid $(cat "$pidfile")) on 127.0.0.1:$port, answering"
  else echo "running (pid $(cat "$pidfile")) on 127.0.0.1:$port, not answering"; return 3; fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$data"; echo "broker data removed ($data)" ;;
  cluster) shift; exec bash "$root/scripts/kafka/cluster.sh" "$@" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset|cluster ..." >&2; exit 2 ;;
esac
