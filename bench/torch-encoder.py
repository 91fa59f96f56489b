"""PyTorch side of the encoder benchmark, as a peer the TypeScript bench drives line by line so
that PyTorch and ONNX Runtime runs alternate in time (the machine's speed drifts; phases run one
after the other would measure the drift). It loads our CLIPN model (eval, no_grad, eager,
float32), prints one JSON line {"ready": ...}, then answers one JSON line per command on stdin:

  encode B     one untimed and one timed encode_image of a batch of B -> {"seconds": s}
  sgemm        one untimed and one timed square float32 matrix product -> {"gflops": g, "n": n}
  profile B    an op-level profile of one batch of B -> {"profile": {...}}
  quit         exit 0

  training/.venv/bin/python bench/torch-encoder.py --config ViT-B-16 --threads 2
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from typing import Any, Callable

import torch

from clipn_kernel.model import CLIPN, load_model_config


def seconds(fn: Callable[[], object], sync: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def answer(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="ViT-B-16")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--matmul", type=int, default=4096, help="side of the square sgemm")
    args = p.parse_args()

    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"error: --device cuda but torch {torch.__version__} sees no CUDA device", file=sys.stderr)
        return 3
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync: Callable[[], None] = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    cfg = load_model_config(args.config)
    # Same seed as `export --random-init --seed 0`: the weights of the bundle ORT runs.
    torch.manual_seed(0)
    model = CLIPN(cfg).eval().to(device)
    size = cfg.vision.image_size
    inputs: dict[int, torch.Tensor] = {}
    m = args.matmul
    a = torch.randn(m, m, device=device)
    b = torch.randn(m, m, device=device)
    answer({"ready": True, "torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"})

    with torch.no_grad():
        for line in sys.stdin:
            cmd, *rest = line.split()
            if cmd == "quit":
                return 0
            if cmd == "sgemm":
                seconds(lambda: a @ b, sync)
                answer({"n": m, "gflops": 2 * m**3 / seconds(lambda: a @ b, sync) / 1e9})
                continue
            batch = int(rest[0])
            x = inputs.setdefault(batch, torch.randn(batch, 3, size, size, device=device))
            if cmd == "encode":
                # The untimed run absorbs a change of batch size and the other side's threads winding down.
                seconds(lambda: model.encode_image(x), sync)
                answer({"seconds": seconds(lambda: model.encode_image(x), sync)})
            elif cmd == "profile":
                from torch.profiler import ProfilerActivity, profile

                model.encode_image(x)
                activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
                with profile(activities=activities) as prof:
                    model.encode_image(x)
                    sync()
                rows = [{"op": e.key, "ms": e.self_cpu_time_total / 1000, "calls": e.count} for e in prof.key_averages()]
                total = sum(r["ms"] for r in rows) or 1.0
                rows.sort(key=lambda r: -r["ms"])
                answer({"profile": {"batch": batch, "totalMs": total, "ops": [{**r, "share": r["ms"] / total} for r in rows[:8]]}})
            else:
                print(f"error: unknown command {line.strip()!r}", file=sys.stderr)
                return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
