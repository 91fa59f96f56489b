#!/usr/bin/env bash
# One command for a fresh machine: Node 24 when the machine's is too old, Node packages, the Python
# venv for training/, the Kafka broker artifacts, Label Studio and the chart tools; then runs the
# main job on the demo model (skip with --no-run).
set -euo pipefail
cd "$(dirname "$0")/.."
run_demo=1
[ "${1:-}" = "--no-run" ] && run_demo=0

# onnxruntime-node's install script downloads CUDA binaries; CPU needs none of them.
export ONNXRUNTIME_NODE_INSTALL=skip
echo "== Node.js (>= 22.15; Node 24 LTS into .tools/node when the machine's is older)"
bash scripts/node.sh fetch
. scripts/node-env.sh
echo "using Node $(node --version) ($(command -v node))"

echo "== Node packages"
npm ci --no-audit --no-fund
bash scripts/node.sh link # npm ci recreated node_modules/.bin

echo "== Python venv (training/)"
python=${PYTHON:-python3}
venv=${CLIPN_VENV:-training/.venv}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
# Every package pinned with its sha256 (training/requirements-test.lock, from scripts/lock-python.sh):
# pip refuses anything unpinned or whose file does not match. The kernel itself comes last,
# without dependencies and with the locked setuptools as its build backend.
"$venv/bin/pip" install --quiet --require-hashes -r training/requirements-test.lock
"$venv/bin/pip" install --quiet --no-deps --no-build-isolation -e training

echo "== Kafka broker artifacts"
bash scripts/kafka.sh fetch

# The label-studio plugin's integration test runs against a real Label Studio (its own venv).
echo "== Label Studio (its own venv, for the label-studio plugin's tests and demo)"
bash scripts/label-studio.sh fetch

if [ -f scripts/helm-tools.sh ]; then
  echo "== Chart tools (helm, kubeconform)"
  bash scripts/helm-tools.sh
fi

if [ "$run_demo" -eq 1 ]; then
  echo "== The sidecar on the demo model"
  # 360: every held-out image of the demo world once, so the printed review rates are the held-out ones.
  node bin/clipn.js demo --max-images 360
fi
