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
    # Scores are ranked by their log-odds, which do not tie, so the numbers are exact on every CPU
    # but for the last float32 bits of the embeddings (ONNX Runtime's kernels differ between AVX2
    # and AVX-512 machines). Those can at most swap an ID image and an OOD image whose scores are
    # within ~1e-4 of each other (closest pair here: 3.8e-4 apart in MSP log-odds): one pair is
    # 1/(n_id x n_ood) of AUROC and moves FPR95 by at most 1/n_ood; one image is 1/n_id of accuracy.
    n_id = recorded["idImages"]
    assert measured["idAccuracy"] == pytest.approx(recorded["idAccuracy"], abs=1 / n_id + 1e-9)
    for concept in ood:
        n_ood = recorded["ood"][concept]["images"]
        tolerance = {"auroc": 1 / (n_id * n_ood) + 1e-9, "fpr95": 1 / n_ood + 1e-9}
        for name in ("ctw", "atd", "msp", "max_logit", "energy"):
            for metric in ("auroc", "fpr95"):
                got, want = measured["ood"][concept][name][metric], recorded["ood"][concept][name][metric]
                assert got == pytest.approx(want, abs=tolerance[metric]), (concept, name, metric)
    assert quality["met"] == {
        "idAccuracy": recorded["idAccuracy"] >= quality["targets"]["idAccuracy"],
        "atdAuroc": recorded["mean"]["atd"]["auroc"] >= quality["targets"]["atdAuroc"],
    }
