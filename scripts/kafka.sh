#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft) on 127.0.0.1 for tests, CI, the demo and local
# development. Kafka 3.9.1: kafkajs 2.2.4 speaks its protocol versions (4.0 removed old ones).
#   scripts/kafka.sh fetch | start | stop | status | reset
# Environment: CLIPN_KAFKA_PORT (9092), CLIPN_KAFKA_CONTROLLER_PORT (9093), CLIPN_KAFKA_HEAP (768m).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools/kafka"
data="$root/.kafka"
port="${CLIPN_KAFKA_PORT:-9092}"
cport="${CLIPN_KAFKA_CONTROLLER_PORT:-9093}"
heap="${CLIPN_KAFKA_HEAP:-768m}"
pidfile="$data/broker.pid"
log="$data/broker.log"

fetch() {
  if [ -f "$tools/libs/kafka_2.13-3.9.1.jar" ] && [ -f "$tools/.complete" ]; then return 0; fi
  echo "fetching Apache Kafka 3.9.1 from Maven Central into $tools"
  rm -rf "$tools" && mkdir -p "$tools/libs"
  mvn -q -B -f "$root/scripts/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tools/libs" -DincludeScope=runtime
  touch "$tools/.complete"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

# The broker answers when a TCP connection to its listener succeeds and the log says it started.
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && grep -q "Kafka Server started\|\[KafkaRaftServer nodeId=1\] Kafka Server started" "$log" 2>/dev/null; }

write_config() {
  mkdir -p "$data/logs"
  cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data/logs
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
min.insync.replicas=1
default.replication.factor=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.cleaner.backoff.ms=1000
PROPS
  cat > "$data/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
}

java_cmd() {
  java -Xmx"$heap" -Xms256m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$data/log4j.properties" -cp "$tools/libs/*" "$@"
}

start() {
  fetch
  if running; then echo "broker already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; return 0; fi
  write_config
  : > "$log"
  if [ ! -f "$data/logs/meta.properties" ]; then
    java_cmd kafka.tools.StorageTool format -t "clipn-local-$(date +%s)" -c "$data/server.properties" --ignore-formatted >> "$log" 2>&1 \
      || { echo "formatting the KRaft log folder failed:"; tail -20 "$log"; exit 1; }
  fi
  local started; started=$(date +%s)
  nohup java -Xmx"$heap" -Xms256m -XX:+UseG1GC -Djava.awt.headless=true -Dlog4j.configuration="file:$data/log4j.properties" \
    -cp "$tools/libs/*" kafka.Kafka "$data/server.properties" >> "$log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 240); do
    if answers; then echo "broker up on 127.0.0.1:$port in $(( $(date +%s) - started )) s (pid $(cat "$pidfile"))"; return 0; fi
    if ! running; then echo "broker exited during start:"; tail -30 "$log"; exit 1; fi
    sleep 0.25
  done
  echo "broker did not answer within 60 s:"; tail -30 "$log"; stop; exit 1
}

stop() {
  if ! running; then rm -f "$pidfile"; echo "broker not running"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "broker stopped"; return 0; }; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"; echo "broker killed after 30 s"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; else echo "not running"; exit 1; fi ;;
  reset) stop; rm -rf "$data"; echo "broker data removed" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset" >&2; exit 2 ;;
esac
