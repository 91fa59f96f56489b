"""PyTorch side of the encoder benchmark, as a peer the TypeScript bench drives line by line so
that PyTorch and ONNX Runtime runs alternate in time (the machine's speed drifts; phases run one
after the other would measure the drift). It loads our CLIPN model (eval, no_grad, eager,
float32), prints one JSON line {"ready": ...}, then answers one JSON line per command on stdin:

  encode B     one untimed and one timed encode_image of a batch of B -> {"seconds": s}
  sgemm        one untimed and one timed square float32 matrix product -> {"gflops": g, "n": n}
  profile B    an op-level profile of one batch of B -> {"profile": {...}}
  linear M K N one untimed and one timed F.linear of an (M, K) input with an (N, K) weight and a
               bias, the model's own product -> {"seconds": s}
  matmul-graph K N PATH
               writes an ONNX graph of one MatMul, input (M, K) with M dynamic, weight (K, N)
               random -> {"path": PATH}
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


def write_matmul_graph(k: int, n: int, path: str) -> None:
    """One MatMul node, (M, K) x (K, N) with M dynamic: ONNX Runtime's float32 product kernel on its own."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = (np.random.default_rng(0).standard_normal((k, n)) * 0.02).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["m", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["m", n])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


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
    linears: dict[tuple[int, int, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
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
            if cmd == "linear":
                mm, k, n = (int(v) for v in rest)
                x, w, bias = linears.setdefault((mm, k, n), (torch.randn(mm, k, device=device), torch.randn(n, k, device=device) * 0.02, torch.zeros(n, device=device)))
                seconds(lambda: torch.nn.functional.linear(x, w, bias), sync)
                answer({"seconds": seconds(lambda: torch.nn.functional.linear(x, w, bias), sync)})
                continue
            if cmd == "matmul-graph":
                write_matmul_graph(int(rest[0]), int(rest[1]), rest[2])
                answer({"path": rest[2]})
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
