"""Copies a bundle and makes its image graph fail on one kind of input, as a real encoder can.

The copy's image.onnx first reshapes pixel_values to [-1, C*S*S + 1] when the top-left pixel of
any image in the batch is saturated red (R - G above 3 in normalised units), which no batch size
divides, so ONNX Runtime throws for that batch; every other batch reshapes to [-1, C*S*S] and back
unchanged. The manifest's checksum of image.onnx is updated; nothing else changes.

    python poison-bundle.py SRC_BUNDLE OUT_DIR
"""

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper


def main(src: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out)
    manifest = json.loads((out / "manifest.json").read_text())
    size = int(manifest["preprocess"]["imageSize"])
    graph_file = out / manifest["graphs"]["image"]["file"]
    model = onnx.load(str(graph_file))
    g = model.graph
    name = g.input[0].name
    per = 3 * size * size

    def const(n: str, value: np.ndarray) -> None:
        g.initializer.append(numpy_helper.from_array(value, n))

    const("poison_r_start", np.array([0, 0, 0, 0], np.int64))
    const("poison_r_end", np.array([2**62, 1, 1, 1], np.int64))
    const("poison_g_start", np.array([0, 1, 0, 0], np.int64))
    const("poison_g_end", np.array([2**62, 2, 1, 1], np.int64))
    const("poison_limit", np.array(3.0, np.float32))
    const("poison_bad_shape", np.array([-1, per + 1], np.int64))
    const("poison_good_shape", np.array([-1, per], np.int64))
    nodes = [
        helper.make_node("Slice", [name, "poison_r_start", "poison_r_end"], ["poison_r"]),
        helper.make_node("Slice", [name, "poison_g_start", "poison_g_end"], ["poison_g"]),
        helper.make_node("Sub", ["poison_r", "poison_g"], ["poison_d"]),
        helper.make_node("ReduceMax", ["poison_d"], ["poison_max"], keepdims=0),
        helper.make_node("Greater", ["poison_max", "poison_limit"], ["poison_flag"]),
        helper.make_node("Where", ["poison_flag", "poison_bad_shape", "poison_good_shape"], ["poison_shape"]),
        helper.make_node("Reshape", [name, "poison_shape"], ["poison_flat"]),
        helper.make_node("Shape", [name], ["poison_orig_shape"]),
        helper.make_node("Reshape", ["poison_flat", "poison_orig_shape"], ["poison_pixels"]),
    ]
    for node in g.node:
        for i, inp in enumerate(node.input):
            if inp == name:
                node.input[i] = "poison_pixels"
    rest = list(g.node)
    del g.node[:]
    g.node.extend(nodes + rest)
    onnx.checker.check_model(model)
    onnx.save(model, str(graph_file))
    data = graph_file.read_bytes()
    entry = manifest["files"][graph_file.name]
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    entry["bytes"] = len(data)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
