"""The committed demo model: its label set, held-out images and quality record agree with each other."""

from __future__ import annotations

import json

import pytest

from clipn_kernel.demo.world import ID_SHAPES, OOD_SHAPES
from clipn_kernel.evaluate import evaluate, image_files
from conftest import REPO

BUNDLE = REPO / "models" / "demo"
HELDOUT = REPO / "models" / "demo-heldout"


@pytest.fixture(scope="module")
def quality() -> dict:
    return json.loads((BUNDLE / "quality.json").read_text())


def test_the_label_set_is_the_worlds_id_shapes(quality):
    labels = json.loads((BUNDLE / "labels.json").read_text())
    assert (labels["id"], labels["version"], labels["labels"]) == ("demo", 1, list(ID_SHAPES))
    assert quality["result"]["labels"] == list(ID_SHAPES)
    assert sorted(quality["result"]["ood"]) == sorted(OOD_SHAPES)


def test_the_committed_heldout_images_are_the_ones_the_quality_record_counts(quality):
    id_files = image_files(HELDOUT / "id")
    assert {f.parent.name for f in id_files} == set(ID_SHAPES)
    assert len(id_files) == quality["result"]["idImages"]
    for concept, record in quality["result"]["ood"].items():
        assert len(image_files(HELDOUT / "ood" / concept)) == record["images"], concept
    total = sum(f.stat().st_size for f in HELDOUT.rglob("*") if f.is_file())
    assert total < 2_000_000, f"held-out images take {total} bytes, limit 2000000"


def test_the_quality_numbers_are_measured_on_the_committed_files_through_the_onnx_graphs(quality):
    labels = json.loads((BUNDLE / "labels.json").read_text())["labels"]
    ood = list(quality["result"]["ood"])
    measured = evaluate(BUNDLE, labels, HELDOUT / "id", [HELDOUT / "ood" / c for c in ood])
    recorded = quality["result"]
    assert measured["modelVersion"] == recorded["modelVersion"]
    assert measured["idAccuracy"] == pytest.approx(recorded["idAccuracy"], abs=1e-9)
    for concept in ood:
        for name in ("ctw", "atd", "msp", "max_logit", "energy"):
            for metric in ("auroc", "fpr95"):
                got, want = measured["ood"][concept][name][metric], recorded["ood"][concept][name][metric]
                assert got == pytest.approx(want, abs=1e-6), (concept, name, metric)
    assert quality["met"] == {
        "idAccuracy": recorded["idAccuracy"] >= quality["targets"]["idAccuracy"],
        "atdAuroc": recorded["mean"]["atd"]["auroc"] >= quality["targets"]["atdAuroc"],
    }
