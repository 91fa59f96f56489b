"""Writes a one-node ONNX graph, Y = A @ W with W a seeded random N x N float32 initializer (as a
model's weights are, so ONNX Runtime pre-packs it), for the bench's sgemm in ONNX Runtime.
Prints {"path": ..., "n": N}.

  training/.venv/bin/python bench/matmul-graph.py --n 4096 --out .cache/bench/matmul-4096.onnx
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=4096, help="side of the square product")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    n = args.n
    w = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "W"], ["Y"])],
        "sgemm",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n, n])],
        [numpy_helper.from_array(w, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(args.out))
    print(json.dumps({"path": str(args.out), "n": n}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
