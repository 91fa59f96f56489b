"""Fused graphs and text graphs at the true token length: both against the traced graphs at all
77 positions, the reference they replace."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from clipn_kernel.export import export_bundle, read_prompt
from clipn_kernel.fuse import check_parity
from clipn_kernel.tokenizer import tokenize

# The parity bound: relative to the output's scale (at least 1), float32 reordering only.
TOL = 1e-5
TEXTS = ["a", "a photo of a dog", "two red stars on a white background, drawn by hand with a thick pen", "🐶 café"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    import torch

    from clipn_kernel.model import CLIPN, parse_model_config

    from conftest import TINY

    cfg = parse_model_config(json.loads(json.dumps(TINY)), name="tiny")
    torch.manual_seed(0)
    model = CLIPN(cfg).eval()
    with torch.no_grad():
        model.prompt_no.normal_(std=0.05)
    root = tmp_path_factory.mktemp("fuse")
    out = {}
    for name, kw in {"fused": {}, "traced": {"fuse": False, "dynamic_length": False}}.items():
        export_bundle(model, cfg, root / name, name="tiny", log=lambda _: None, **kw)
        out[name] = root / name
    return out


def _run(path, feeds):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def _rel(a, b):
    return float(np.max(np.abs(a - b))) / max(1.0, float(np.max(np.abs(a))))


def test_fused_graphs_use_the_contrib_ops_and_record_parity(bundles):
    manifest = json.loads((bundles["fused"] / "manifest.json").read_text())
    for key, file in (("image", "image.onnx"), ("text", "text.onnx"), ("textNo", "text_no.onnx")):
        info = manifest["graphs"][key]["fused"]
        # Residual adds stay apart from LayerNorm (faster on the CPU than SkipLayerNormalization; fuse.py).
        assert info["attention"] == 2 and info["skipLayerNorm"] == 0 and info["layerNorm"] >= 4 and info["biasGelu"] == 2, info
        assert info["nodes"][1] < info["nodes"][0] and info["parity"] <= TOL
        ops = [n for n in onnx.load(str(bundles["fused"] / file)).graph.node if n.op_type == "Attention"]
        # CLIP's text transformer is causal: the mask becomes the Attention's unidirectional flag.
        assert {a.attribute[[x.name for x in a.attribute].index("unidirectional")].i for a in ops} == ({0} if key == "image" else {1})
    traced = json.loads((bundles["traced"] / "manifest.json").read_text())
    assert "fused" not in traced["graphs"]["image"]
    assert traced["graphs"]["text"]["inputs"][0]["shape"] == ["batch", 77]
    assert manifest["graphs"]["text"]["inputs"][0]["shape"] == ["batch", "sequence"]


def test_fused_image_graph_matches_the_traced_one(bundles):
    pixels = np.random.default_rng(1).standard_normal((5, 3, 32, 32)).astype(np.float32)
    feed = {"pixel_values": pixels}
    assert _rel(_run(bundles["traced"] / "image.onnx", feed), _run(bundles["fused"] / "image.onnx", feed)) <= TOL


@pytest.mark.parametrize("file", ["text.onnx", "text_no.onnx"])
def test_texts_cut_to_their_length_match_all_77_positions_of_the_traced_graph(bundles, file):
    ids = tokenize(TEXTS).numpy()
    prompt = read_prompt(bundles["fused"])
    extra = {"prompt": prompt} if file == "text_no.onnx" else {}
    reference = _run(bundles["traced"] / file, {"input_ids": ids, **extra})
    for rows in ([0], [1], [2], [0, 1, 2, 3]):
        length = int(ids[rows].argmax(axis=1).max()) + 1  # the end token has the largest id
        got = _run(bundles["fused"] / file, {"input_ids": ids[rows, :length].copy(), **extra})
        assert _rel(reference[rows], got) <= TOL, (file, rows, length)
    # Padding beyond the end token changes nothing: the same texts at 77 positions.
    assert _rel(reference, _run(bundles["fused"] / file, {"input_ids": ids, **extra})) <= TOL


def test_parity_check_names_a_graph_that_differs(bundles, tmp_path):
    model = onnx.load(str(bundles["fused"] / "image.onnx"))
    out = model.graph.output[0].name
    # Scale the output by 1.01: far above the bound.
    model.graph.node.append(onnx.helper.make_node("Mul", [out + "_pre", "k"], [out]))
    for n in model.graph.node[:-1]:
        n.output[:] = [o + "_pre" if o == out else o for o in n.output]
    model.graph.initializer.append(onnx.numpy_helper.from_array(np.array(1.01, dtype=np.float32), "k"))
    onnx.save(model, str(tmp_path / "bad.onnx"))
    feed = {"pixel_values": np.ones((1, 3, 32, 32), dtype=np.float32)}
    with pytest.raises(ValueError, match="differs from the reference graph"):
        check_parity(bundles["fused"] / "image.onnx", tmp_path / "bad.onnx", [(feed, feed)])
