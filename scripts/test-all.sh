#!/usr/bin/env bash
# The one test command (npm test): type-check, TypeScript unit and integration tests (against a
# real Kafka broker started by scripts/with-kafka.sh), the Python suite, and the Helm chart.
# Prints one closing line: "tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
export ONNXRUNTIME_NODE_INSTALL=skip
echo "== Node $(node --version)"
logdir=$(mktemp -d)
passed=0; failed=0; status=0

count_node() { # node:test spec reporter summary lines
  local p f
  p=$(grep -E '^ℹ pass [0-9]+' "$1" | tail -1 | awk '{print $3}'); f=$(grep -E '^ℹ fail [0-9]+' "$1" | tail -1 | awk '{print $3}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ -z "$p" ]; then failed=$((failed + 1)); echo "!! no test summary from $2"; fi
}

# The label-studio integration test needs a real Label Studio (scripts/label-studio.sh, the test's
# port and data folder). Started now in the background, bounded, so that its first start (database
# migrations, 1-2 min) overlaps the type-check and unit tests; the test finds it running (or starts
# it itself, failing with the script's message: it is never skipped), and it is stopped at the end.
ls_env=(CLIPN_LABEL_STUDIO_PORT=8090 CLIPN_LABEL_STUDIO_DATA_DIR="$PWD/.cache/label-studio-test" CLIPN_LABEL_STUDIO_START_TIMEOUT=600)
ls_started=0
if ! env "${ls_env[@]}" bash scripts/label-studio.sh status >/dev/null 2>&1; then
  echo "== Label Studio: starting in the background (log $logdir/label-studio.log)"
  env "${ls_env[@]}" timeout 900 bash scripts/label-studio.sh start >"$logdir/label-studio.log" 2>&1 &
  ls_started=$!
fi

echo "== type-check"
if ! npx tsc -p tsconfig.json --noEmit; then failed=$((failed + 1)); status=1; echo "!! type-check failed"; fi

unit=$(find test -name '*.test.ts' -not -path 'test/integration/*' | sort)
if [ -n "$unit" ]; then
  echo "== TypeScript unit tests"
  node --import tsx --test --test-force-exit --test-reporter=spec --test-concurrency=2 $unit 2>&1 | tee "$logdir/unit.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  count_node "$logdir/unit.log" "unit tests"
fi

integ=$(find test/integration -name '*.test.ts' 2>/dev/null | sort)
if [ -n "$integ" ]; then
  echo "== TypeScript integration tests (real Kafka broker)"
  bash scripts/with-kafka.sh node --import tsx --test --test-force-exit --test-reporter=spec --test-concurrency=1 $integ 2>&1 | tee "$logdir/integ.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  count_node "$logdir/integ.log" "integration tests"
fi
if [ "$ls_started" != 0 ]; then
  wait "$ls_started" 2>/dev/null || { echo "!! Label Studio did not start in the background:"; tail -20 "$logdir/label-studio.log"; }
  env "${ls_env[@]}" bash scripts/label-studio.sh stop
fi

if [ -x training/.venv/bin/python ]; then
  echo "== Python tests"
  training/.venv/bin/python -m pytest -q training/tests 2>&1 | tee "$logdir/py.log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || status=1
  line=$(grep -E '[0-9]+ (passed|failed)' "$logdir/py.log" | tail -1)
  p=$(echo "$line" | grep -oE '[0-9]+ passed' | awk '{print $1}'); f=$(echo "$line" | grep -oE '[0-9]+ (failed|error)' | awk '{s+=$1} END {print s+0}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  [ -n "$p" ] || { failed=$((failed + 1)); echo "!! no pytest summary"; }
else
  echo "!! training/.venv is missing: run npm run setup"; failed=$((failed + 1)); status=1
fi

if [ -x helm/test.sh ]; then
  echo "== Helm chart"
  bash helm/test.sh 2>&1 | tee "$logdir/helm.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  line=$(grep -E '^helm: [0-9]+ passed' "$logdir/helm.log" | tail -1)
  p=$(echo "$line" | awk '{print $2}'); f=$(echo "$line" | awk '{print $4}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  [ -n "$p" ] || { failed=$((failed + 1)); echo "!! no helm summary"; }
fi

rm -rf "$logdir"
[ "$failed" -eq 0 ] || status=1
echo "tests: $passed passed, $failed failed"
exit $status
