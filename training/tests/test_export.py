import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from clipn_kernel.export import export_bundle, read_prompt, verify_bundle
from clipn_kernel.tokenizer import tokenize


@pytest.fixture()
def bundle(tiny_model, tiny_cfg, tmp_path):
    out = tmp_path / "bundle"
    lines = []
    export_bundle(tiny_model, tiny_cfg, out, name="tiny", log=lines.append)
    assert any("[2/6] image.onnx" in line for line in lines), "export reports progress stage by stage"
    return out


def close(a: np.ndarray, b: np.ndarray) -> None:
    # 1e-5 relative to the output's scale (elementwise relative error is meaningless near zero).
    assert np.max(np.abs(a - b)) <= 1e-5 * max(1.0, float(np.max(np.abs(b)))), float(np.max(np.abs(a - b)))


@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_runtime_equals_pytorch(bundle, tiny_model, batch):
    torch.manual_seed(batch)
    pixels = torch.randn(batch, 3, 32, 32)
    ids = tokenize(["a photo of a dog", "two red stars", "🐶 café"][:batch])
    prompt = torch.randn(77, 48) * 0.1
    sess = {n: ort.InferenceSession(str(bundle / f"{n}.onnx"), providers=["CPUExecutionProvider"]) for n in ("image", "text", "text_no")}
    with torch.no_grad():
        close(sess["image"].run(None, {"pixel_values": pixels.numpy()})[0], tiny_model.encode_image(pixels).numpy())
        close(sess["text"].run(None, {"input_ids": ids.numpy()})[0], tiny_model.encode_text(ids).numpy())
        close(sess["text_no"].run(None, {"input_ids": ids.numpy(), "prompt": prompt.numpy()})[0], tiny_model.encode_text_no(ids, prompt).numpy())


def test_graphs_pass_the_checker_and_have_a_dynamic_batch(bundle):
    for name in ("image", "text", "text_no"):
        model = onnx.load(str(bundle / f"{name}.onnx"))
        onnx.checker.check_model(model)
        assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_manifest_lists_every_file_with_its_checksum(bundle, tiny_model):
    manifest = verify_bundle(bundle)
    files = {p.name for p in bundle.iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == files
    assert manifest["graphs"]["textNo"]["inputs"][1] == {"name": "prompt", "dtype": "float32", "shape": [77, 48]}
    np.testing.assert_allclose(read_prompt(bundle), tiny_model.mean_prompt().detach().numpy(), rtol=0, atol=0)
    assert manifest["preprocess"]["mean"] == [0.48145466, 0.4578275, 0.40821073]


def test_files_beside_the_bundle_are_not_listed(tiny_model, tiny_cfg, tmp_path):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "labels.json").write_text('{"labels": ["dog"]}')
    (out / "QUALITY.md").write_text("old notes")
    manifest = export_bundle(tiny_model, tiny_cfg, out, name="tiny", log=lambda _: None)
    assert "labels.json" not in manifest["files"] and "QUALITY.md" not in manifest["files"]
    (out / "labels.json").write_text('{"labels": ["cat"]}')  # editing documentation keeps the bundle valid
    assert verify_bundle(out)["modelVersion"] == manifest["modelVersion"]


def test_a_corrupt_file_is_named(bundle):
    data = bytearray((bundle / "text.onnx").read_bytes())
    data[100] ^= 0xFF
    (bundle / "text.onnx").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="text.onnx does not match"):
        verify_bundle(bundle)


def test_fp16_export_keeps_float32_inputs_and_outputs(tiny_model, tiny_cfg, tmp_path):
    manifest = export_bundle(tiny_model, tiny_cfg, tmp_path / "fp16", name="tiny", fp16=True, log=lambda _: None)
    assert manifest["precision"] == "fp16"
    model = onnx.load(str(tmp_path / "fp16" / "image.onnx"))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in model.graph.initializer)
    assert json.loads((tmp_path / "fp16" / "manifest.json").read_text())["precision"] == "fp16"
    # The PyTorch model is left in float32 after an fp16 export.
    assert next(tiny_model.parameters()).dtype == torch.float32


def test_fp16_graphs_run_in_onnx_runtime_close_to_fp32(tiny_model, tiny_cfg, tmp_path):
    export_bundle(tiny_model, tiny_cfg, tmp_path / "fp16", name="tiny", fp16=True, log=lambda _: None)
    pixels = torch.randn(2, 3, 32, 32)
    ids = tokenize(["a photo of a dog", "two red stars 🐶"])
    prompt = tiny_model.mean_prompt().detach()
    with torch.no_grad():
        cases = {
            "image": ({"pixel_values": pixels.numpy()}, tiny_model.encode_image(pixels)),
            "text": ({"input_ids": ids.numpy()}, tiny_model.encode_text(ids)),
            "text_no": ({"input_ids": ids.numpy(), "prompt": prompt.numpy()}, tiny_model.encode_text_no(ids, prompt)),
        }
    for name, (feeds, want) in cases.items():
        got = ort.InferenceSession(str(tmp_path / "fp16" / f"{name}.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        assert got.dtype == np.float32
        assert np.max(np.abs(got - want.numpy())) <= 2e-2 * max(1.0, float(np.max(np.abs(want.numpy())))), name
