import json

import numpy as np
import pytest
import torch
from PIL import Image

from clipn_kernel.checkpoint import file_sha256, save_checkpoint
from clipn_kernel.export import export_bundle
from clipn_kernel.goldens import golden_images, make_goldens
from clipn_kernel.model import CLIPN
from clipn_kernel.scoring import score
from clipn_kernel.tokenizer import TOKENIZER_CORPUS, tokenize

LABELS = ["circle", "square", "triangle"]


@pytest.fixture()
def bundle(tiny_model, tiny_cfg, tmp_path):
    out = tmp_path / "bundle"
    templates = tmp_path / "templates.txt"
    templates.write_text("a photo of a {}.\n'a drawing of the {}.'\n")  # two lines keep the test fast
    export_bundle(tiny_model, tiny_cfg, out, name="tiny", templates_path=templates, log=lambda _: None)
    return out


def f32(path, *shape):
    return np.fromfile(path, dtype="<f4").reshape(shape)


def test_golden_images_cover_the_decoding_cases(tmp_path):
    made = dict(golden_images(tmp_path))
    with Image.open(tmp_path / "10-jpeg-odd.jpg") as im:
        assert im.format == "JPEG" and im.size == (301, 199)
    with Image.open(tmp_path / "11-png-odd.png") as im:
        assert im.format == "PNG" and im.size == (97, 211)
    with Image.open(tmp_path / "12-grayscale.png") as im:
        assert im.mode == "L"
    with Image.open(tmp_path / "13-alpha.png") as im:
        assert im.mode == "RGBA" and im.getextrema()[3] == (0, 255)
    with Image.open(tmp_path / "14-exif-rotated.jpg") as im:
        assert im.getexif()[0x0112] == 6 and im.size == (120, 80)
    with Image.open(tmp_path / "15-tall.png") as im:
        assert im.size[1] > 5 * im.size[0]
    assert len(made) == len(list(tmp_path.iterdir()))


def test_goldens_agree_with_the_bundle_and_with_their_own_tensors(bundle, tiny_model, tmp_path):
    out = tmp_path / "golden"
    golden = make_goldens(bundle, LABELS, out)
    assert json.loads((out / "golden.json").read_text()) == golden
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert golden["modelVersion"] == manifest["modelVersion"] and golden["labels"] == LABELS
    assert all(d < 1e-4 for d in golden["onnxVsPytorch"].values()), golden["onnxVsPytorch"]

    s, d, k = golden["imageSize"], golden["embedDim"], len(LABELS)
    n = len(golden["images"])
    embeds = f32(out / "tensors" / "image_embeds.bin", n, d)
    w_yes, w_no = f32(out / "tensors" / "heads_yes.bin", k, d), f32(out / "tensors" / "heads_no.bin", k, d)
    for i, image in enumerate(golden["images"]):
        pixels = f32(out / image["pixels"], 1, 3, s, s)
        with torch.no_grad():
            np.testing.assert_allclose(tiny_model.encode_image(torch.from_numpy(pixels)).numpy()[0], embeds[i], rtol=1e-5, atol=1e-5)
        assert (out / image["file"]).is_file()
    again = score(torch.from_numpy(embeds), torch.from_numpy(w_yes), torch.from_numpy(w_no), 100.0)
    assert [im["index"] for im in golden["images"]] == again.index.tolist()
    assert [im["label"] for im in golden["images"]] == [LABELS[i] for i in again.index.tolist()]
    np.testing.assert_allclose([im["scores"]["atd"] for im in golden["images"]], again.atd.numpy(), rtol=1e-6)
    np.testing.assert_allclose([im["scores"]["atdLogOdds"] for im in golden["images"]], again.atd_log_odds.numpy(), rtol=1e-6, atol=1e-6)
    assert [im["ood"]["ctw"] for im in golden["images"]] == again.ood_ctw.tolist()

    tokens = {row["text"]: row["ids"] for row in golden["tokens"]}
    assert all(tokens[t] == tokenize([t])[0].tolist() for t in TOKENIZER_CORPUS)
    assert golden["texts"] == [t.format(label) for label in LABELS for t in golden["templates"]]


def test_a_bundle_whose_graphs_do_not_match_its_checkpoint_is_refused(bundle, tiny_cfg, tmp_path):
    torch.manual_seed(99)
    other = CLIPN(tiny_cfg)
    save_checkpoint(other, bundle / "checkpoint.pt")
    manifest = json.loads((bundle / "manifest.json").read_text())
    sha = file_sha256(bundle / "checkpoint.pt")
    manifest["files"]["checkpoint.pt"] = {"sha256": sha, "bytes": (bundle / "checkpoint.pt").stat().st_size}
    manifest["source"]["sha256"] = sha
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"image.onnx disagrees with its checkpoint"):
        make_goldens(bundle, LABELS, tmp_path / "golden")
