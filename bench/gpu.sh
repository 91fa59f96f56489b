#!/usr/bin/env bash
# The benchmark suite on a CUDA machine: image encoder and clipn serve with ONNX Runtime's CUDA
# execution provider, PyTorch on CUDA as the peer; writes bench/RESULTS.cuda.md.
#   bash bench/gpu.sh [--quick] [other bench/run.ts options]
# Fails (exit 3, with a message) when CUDA is not available to PyTorch or to ONNX Runtime; it
# never falls back to the CPU. onnxruntime-node's CUDA binaries are not bundled in the npm
# package: install them once with  ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${CLIPN_BENCH_PYTHON:-training/.venv/bin/python}"
fail() { echo "bench/gpu.sh: $*" >&2; exit 3; }

command -v nvidia-smi >/dev/null 2>&1 || fail "CUDA requested but nvidia-smi is not on PATH: no NVIDIA driver on this machine"
nvidia-smi -L >/dev/null 2>&1 || fail "CUDA requested but nvidia-smi lists no GPU"
"$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' \
  || fail "CUDA requested but PyTorch ($("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null)) sees no CUDA device"
# bench/run.ts checks ONNX Runtime itself: the project's executionProviders ["cuda"] must load,
# else it stops with EXECUTION_PROVIDER_UNAVAILABLE (exit 3).
exec npm run bench -- --device cuda "$@"
