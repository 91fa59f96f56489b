"""PyTorch side of the encoder benchmark: our CLIPN model's encode_image (eval, no_grad, eager,
float32) at several batch sizes, the sgemm ceiling of this machine on the same threads, and
an op-level profile of one batch. Prints one JSON object on the last line of stdout.

  training/.venv/bin/python bench/torch-encoder.py --config ViT-B-16 --threads 2 --batches 1,8,32 --reps 20,8,5
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import torch

from clipn_kernel.model import CLIPN, load_model_config


def seconds(fn, sync) -> float:
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="ViT-B-16")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batches", default="1,8,32")
    p.add_argument("--reps", default="20,8,5", help="timed runs per batch size, in the order of --batches")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--matmul", type=int, default=4096, help="side of the square sgemm")
    p.add_argument("--matmul-reps", type=int, default=5)
    p.add_argument("--budget", type=float, default=1e9, help="seconds of timed runs per batch size (at least 3 runs, at most --reps)")
    p.add_argument("--profile-batch", type=int, default=8, help="0: no profile")
    args = p.parse_args()

    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"error: --device cuda but torch {torch.__version__} sees no CUDA device", file=sys.stderr)
        return 3
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    cfg = load_model_config(args.config)
    # Same seed as `export --random-init --seed 0`: the weights of the bundle ORT runs.
    torch.manual_seed(0)
    model = CLIPN(cfg).eval().to(device)
    size = cfg.vision.image_size
    batches = [int(b) for b in args.batches.split(",")]
    reps = [int(r) for r in args.reps.split(",")]
    out: dict = {"torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
                 "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu", "encoder": {}}
    with torch.no_grad():
        for batch, n in zip(batches, reps):
            x = torch.randn(batch, 3, size, size, device=device)
            seconds(lambda: model.encode_image(x), sync)  # warm-up: allocator and kernel choice
            times = [seconds(lambda: model.encode_image(x), sync)]
            n = max(min(3, n), min(n, int(args.budget / times[0])))
            times += [seconds(lambda: model.encode_image(x), sync) for _ in range(n - 1)]
            out["encoder"][str(batch)] = times
            print(f"torch batch {batch}: {[round(batch / s, 2) for s in out['encoder'][str(batch)]]} images/s", file=sys.stderr)

        m = args.matmul
        a = torch.randn(m, m, device=device)
        b = torch.randn(m, m, device=device)
        seconds(lambda: a @ b, sync)
        times = [seconds(lambda: a @ b, sync) for _ in range(args.matmul_reps)]
        out["sgemm"] = {"n": m, "gflops": [2 * m**3 / t / 1e9 for t in times]}

        if args.profile_batch > 0:
            from torch.profiler import ProfilerActivity, profile

            x = torch.randn(args.profile_batch, 3, size, size, device=device)
            activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
            with profile(activities=activities) as prof:
                model.encode_image(x)
                sync()
            rows = []
            for e in prof.key_averages():
                rows.append({"op": e.key, "ms": e.self_cpu_time_total / 1000, "calls": e.count})
            total = sum(r["ms"] for r in rows) or 1.0
            rows.sort(key=lambda r: -r["ms"])
            out["profile"] = {"batch": args.profile_batch, "totalMs": total, "ops": [{**r, "share": r["ms"] / total} for r in rows[:8]]}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
