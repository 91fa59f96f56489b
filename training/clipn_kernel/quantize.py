"""int8 image encoder: ONNX Runtime quantization of a bundle's image graph, dynamic or static.

- dynamic: weights of the MatMul/Gemm nodes (and of the fused Attention nodes' QKV product)
  become int8 per output channel; activations are quantized to uint8 at run time, per batch
  (DynamicQuantizeLinear), so no calibration data is needed.
- static (QDQ): weights int8 per output channel; activation scales fixed beforehand from
  calibration images: in-distribution images of the demo world, through the bundle's own
  preprocessing (never the held-out sets the accuracy is measured on). ONNX Runtime fuses the
  QuantizeLinear/DequantizeLinear pairs around each product into integer kernels.

Either way the graph's inputs and outputs stay float32. `exclude` keeps named nodes in float32
(layers whose quantization costs accuracy). The text graphs are left in float32: their
embeddings are computed once per label and cached, so int8 would buy little there and cost
head accuracy. The manifest says so: top-level `precision` is "int8" and each graph carries its
own `precision` ("int8" for the image graph, with how it was quantized; "fp32" for the others).
Which method wins on which CPU is measured by `npm run bench` (bench/RESULTS.md).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import onnx

from .export import _sha256, verify_bundle

METHODS = ("dynamic", "static")
# The method `export --int8-image` uses unless told otherwise: the measured winner (bench/RESULTS.md,
# section 9: on ViT-B-16 with AVX-512 VNNI dynamic was 2.08x fp32 at batch 8, static 1.62x, static
# keeping the fused Attention's QKV product in float32; both lost under 0.2 AUROC points on the demo).
DEFAULT_METHOD = "dynamic"
QUANTIZED_OPS = ("MatMul", "Gemm")
# Seed of the calibration images: not a seed of the demo's held-out sets (1_000_003, 2_000_003).
CALIBRATION_SEED = 3_000_017


def calibration_pixels(size: int, n: int = 64, seed: int = CALIBRATION_SEED) -> np.ndarray:
    """[n,3,S,S] calibration inputs: in-distribution demo-world images (the six ID shapes in turn),
    drawn at the model's input size and put through the bundle preprocessing."""
    from .demo.world import ID_SHAPES, samples
    from .preprocess import preprocess

    return np.stack([preprocess(s.image, size) for s in samples(seed, ID_SHAPES, n, size=size)]).astype(np.float32)


class _Reader:
    """onnxruntime.quantization's CalibrationDataReader protocol over fixed batches."""

    def __init__(self, name: str, pixels: np.ndarray, batch: int = 8) -> None:
        self.batches: Iterator[dict[str, np.ndarray]] = iter([{name: pixels[i : i + batch]} for i in range(0, len(pixels), batch)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.batches, None)


def quantize_image_graph(
    src: str | Path,
    dst: str | Path,
    *,
    method: str = DEFAULT_METHOD,
    per_channel: bool = True,
    calibration: np.ndarray | None = None,
    exclude: Sequence[str] = (),
) -> dict[str, Any]:
    """Writes the int8 copy of the float32 graph `src` to `dst`; returns what was done.
    `calibration` ([n,3,S,S] float32) is required for the static method."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method not in METHODS:
        raise ValueError(f"int8 method: expected one of {', '.join(METHODS)}, got {method!r}")
    src, dst = Path(src), Path(dst)
    source = onnx.load(str(src), load_external_data=False)
    names = {n.name for n in source.graph.node}
    unknown = sorted(set(exclude) - names)
    if unknown:
        raise ValueError(f"{src}: no nodes named {', '.join(unknown)} to keep in float32")
    fused_attention = any(n.op_type == "Attention" for n in source.graph.node)
    # Outputs of ONNX Runtime's contrib ops (fused graphs) have no ONNX shape inference: they are float.
    extra: dict[str, Any] = {"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT}
    # quantize_* write next to their output; a temporary name keeps a failed run from leaving a
    # half-written graph under the final name.
    with tempfile.TemporaryDirectory(dir=dst.parent) as tmp:
        out = Path(tmp) / dst.name
        if method == "dynamic":
            # Only products with a constant weight: activation-by-activation MatMuls (attention
            # scores) would need both sides quantized at run time for no gain on 197 tokens. The
            # fused Attention's QKV product becomes QAttention.
            ops = [*QUANTIZED_OPS, *(["Attention"] if fused_attention else [])]
            quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8, per_channel=per_channel, op_types_to_quantize=ops,
                             nodes_to_exclude=list(exclude), extra_options=extra)
            activations = "uint8, dynamic per-tensor (per batch at run time)"
        else:
            if calibration is None or len(calibration) == 0:
                raise ValueError("int8 method static: expected calibration images, got none")
            ops = list(QUANTIZED_OPS)
            # The QDQ quantizer needs every tensor's type, contrib ops' outputs included: symbolic
            # shape inference knows them.
            inferred = Path(tmp) / "inferred.onnx"
            quant_pre_process(str(src), str(inferred), skip_optimization=True, auto_merge=True)
            inits = {i.name for i in source.graph.initializer}
            # Products with a constant weight only (what MatMulConstBOnly does in dynamic mode).
            nodes = [n.name for n in source.graph.node if n.op_type in ops and len(n.input) > 1 and n.input[1] in inits and n.name not in exclude]
            input_name = source.graph.input[0].name
            quantize_static(str(inferred), str(out), _Reader(input_name, calibration), quant_format=QuantFormat.QDQ, op_types_to_quantize=ops,
                            nodes_to_quantize=nodes, per_channel=per_channel, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=list(exclude), calibrate_method=CalibrationMethod.MinMax,
                            extra_options={**extra, "ActivationSymmetric": False, "WeightSymmetric": True,
                                           # Outputs stay float: ONNX Runtime runs DQ -> MatMul as one integer product to float.
                                           "OpTypesToExcludeOutputQuantization": ops})
            activations = f"uint8, static per-tensor (MinMax over {len(calibration)} calibration images)"
        onnx.checker.check_model(str(out))
        counts: dict[str, int] = {}
        for node in onnx.load(str(out), load_external_data=False).graph.node:
            if node.op_type in ("MatMulInteger", "DynamicQuantizeLinear", "DynamicQuantizeMatMul", "QAttention", "QuantizeLinear", "DequantizeLinear",
                                "QGemm", "MatMul", "Gemm", "Attention"):
                counts[node.op_type] = counts.get(node.op_type, 0) + 1
        os.replace(out, dst)
    return {
        "method": method,
        "tool": f"onnxruntime.quantization.{'quantize_dynamic' if method == 'dynamic' else 'quantize_static (QDQ)'}",
        "weights": "int8 per-channel" if per_channel else "int8 per-tensor",
        "activations": activations,
        "ops": ops,
        "keptFloat": sorted(exclude),
        "nodes": dict(sorted(counts.items())),
    }


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def quantize_bundle_image(
    bundle_dir: str | Path,
    *,
    method: str = DEFAULT_METHOD,
    per_channel: bool = True,
    exclude: Sequence[str] = (),
    calibration: np.ndarray | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Replaces the bundle's image graph by its int8 version and rewrites the manifest; returns it.
    The static method calibrates on `calibration` or, when None, on `calibration_pixels`."""
    root = Path(bundle_dir)
    manifest = verify_bundle(root)
    image = manifest["graphs"]["image"]
    if image.get("precision") == "int8":
        raise ValueError(f"bundle {root}: the image graph is already int8")
    if manifest.get("precision", "fp32") != "fp32":
        raise ValueError(f"bundle {root}: expected an fp32 bundle to quantize, got precision {manifest['precision']}")
    if method == "static" and calibration is None:
        calibration = calibration_pixels(int(manifest["preprocess"]["imageSize"]))
    path = root / image["file"]
    tmp = path.with_name(path.name + ".int8")
    info = quantize_image_graph(path, tmp, method=method, per_channel=per_channel, calibration=calibration, exclude=exclude)
    # A new file replaces the old name: a hard-linked original elsewhere is never written.
    os.replace(tmp, path)
    manifest["precision"] = "int8"
    for name, graph in manifest["graphs"].items():
        graph["precision"] = "int8" if name == "image" else "fp32"
    image["quantization"] = info
    manifest["files"][image["file"]] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"{path}: int8 {method} ({info['weights']} weights, {info['nodes']}), {path.stat().st_size / 1e6:.1f} MB")
    return manifest


def int8_image_copy(src_bundle: str | Path, out_dir: str | Path, *, method: str = DEFAULT_METHOD, per_channel: bool = True,
                    exclude: Sequence[str] = (), calibration: np.ndarray | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
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
    return quantize_bundle_image(out, method=method, per_channel=per_channel, exclude=exclude, calibration=calibration, log=log)
