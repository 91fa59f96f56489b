"""`demo build` helpers: the held-out image folders and the QUALITY.md text."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from clipn_kernel.demo.build import quality_markdown, write_images
from clipn_kernel.demo.world import OOD_SHAPES, samples
from conftest import REPO


def test_write_images_leaves_exactly_per_class_world_images_and_no_stale_ones(tmp_path):
    stale = tmp_path / "heart" / "999.png"
    stale.parent.mkdir(parents=True)
    Image.new("RGB", (64, 64)).save(stale)
    (tmp_path / "heart" / "notes.txt").write_text("not an image this command owns")
    write_images(tmp_path, 21, OOD_SHAPES, 2)
    written = {shape: sorted((tmp_path / shape).glob("*.png")) for shape in OOD_SHAPES}
    assert all(len(files) == 2 for files in written.values())
    assert not stale.exists()
    assert (tmp_path / "heart" / "notes.txt").exists()
    order = {shape: 0 for shape in OOD_SHAPES}
    for sample in samples(21, OOD_SHAPES, 2 * len(OOD_SHAPES)):
        path = written[sample.shape][order[sample.shape]]
        order[sample.shape] += 1
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(sample.image)), path


def test_quality_markdown_counts_and_names_the_ood_sets_of_the_record():
    quality = json.loads((REPO / "models" / "demo" / "quality.json").read_text())
    names = list(quality["result"]["ood"])
    for i, name in enumerate(names):
        quality["result"]["ood"][name]["images"] = 7 + i
    text = quality_markdown(quality)
    for i, name in enumerate(names):
        assert f"{name} {7 + i}" in text
        assert f"--ood models/demo-heldout/ood/{name}" in text
    assert f"({quality['result']['idImages']} ID images;" in text
    assert quality["command"] in text
