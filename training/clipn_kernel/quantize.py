"""int8 image encoder: ONNX Runtime dynamic quantization of a bundle's image graph.

Weights of the MatMul/Gemm nodes become int8 (per output channel by default); activations are
quantized to uint8 at run time (DynamicQuantizeLinear), so the graph needs no calibration data
and its inputs and outputs stay float32. The text graphs are left in float32: their embeddings
are computed once per label and cached, so int8 would buy little there and cost head accuracy.
The manifest says so: top-level `precision` is "int8" and each graph carries its own
`precision` ("int8" for the image graph, with how it was quantized; "fp32" for the others).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import onnx

from .export import _sha256, verify_bundle

QUANTIZED_OPS = ("MatMul", "Gemm")


def quantize_image_graph(src: str | Path, dst: str | Path, *, per_channel: bool = True) -> dict[str, Any]:
    """Writes the dynamically quantized copy of the float32 graph `src` to `dst`; returns what was done."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src), Path(dst)
    # quantize_dynamic writes next to its output; a temporary name keeps a failed run from
    # leaving a half-written graph under the final name.
    with tempfile.TemporaryDirectory(dir=dst.parent) as tmp:
        out = Path(tmp) / dst.name
        quantize_dynamic(
            str(src),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            op_types_to_quantize=list(QUANTIZED_OPS),
            # Only products with a constant weight: activation-by-activation MatMuls (attention
            # scores) would need both sides quantized at run time for no gain on 197 tokens.
            extra_options={"MatMulConstBOnly": True},
        )
        onnx.checker.check_model(str(out))
        ops: dict[str, int] = {}
        for node in onnx.load(str(out), load_external_data=False).graph.node:
            if node.op_type in ("MatMulInteger", "DynamicQuantizeLinear", "DynamicQuantizeMatMul", "QGemm", "MatMul", "Gemm"):
                ops[node.op_type] = ops.get(node.op_type, 0) + 1
        os.replace(out, dst)
    return {
        "method": "onnxruntime.quantization.quantize_dynamic",
        "weights": "int8 per-channel" if per_channel else "int8 per-tensor",
        "activations": "uint8, dynamic per-tensor",
        "ops": list(QUANTIZED_OPS),
        "nodes": dict(sorted(ops.items())),
    }


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def quantize_bundle_image(bundle_dir: str | Path, *, per_channel: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Replaces the bundle's image graph by its int8 version and rewrites the manifest; returns it."""
    root = Path(bundle_dir)
    manifest = verify_bundle(root)
    image = manifest["graphs"]["image"]
    if image.get("precision") == "int8":
        raise ValueError(f"bundle {root}: the image graph is already int8")
    if manifest.get("precision", "fp32") != "fp32":
        raise ValueError(f"bundle {root}: expected an fp32 bundle to quantize, got precision {manifest['precision']}")
    path = root / image["file"]
    tmp = path.with_name(path.name + ".int8")
    info = quantize_image_graph(path, tmp, per_channel=per_channel)
    # A new file replaces the old name: a hard-linked original elsewhere is never written.
    os.replace(tmp, path)
    manifest["precision"] = "int8"
    for name, graph in manifest["graphs"].items():
        graph["precision"] = "int8" if name == "image" else "fp32"
    image["quantization"] = info
    manifest["files"][image["file"]] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"{path}: int8 ({info['weights']} weights, {info['nodes']}), {path.stat().st_size / 1e6:.1f} MB")
    return manifest


def int8_image_copy(src_bundle: str | Path, out_dir: str | Path, *, per_channel: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """A copy of an fp32 bundle (files hard-linked where possible) whose image graph is int8."""
    src, out = Path(src_bundle), Path(out_dir)
    manifest = verify_bundle(src)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in [*manifest["files"], "manifest.json"]:
        _link_or_copy(src / name, out / name)
    # The manifest is rewritten: never through a link to the source's.
    (out / "manifest.json").unlink()
    (out / "manifest.json").write_text((src / "manifest.json").read_text())
    return quantize_bundle_image(out, per_channel=per_channel, log=log)
