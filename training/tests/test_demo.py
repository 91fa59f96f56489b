import json

import numpy as np

from clipn_kernel.demo.world import DEMO_TEMPLATES, ID_SHAPES, OOD_SHAPES, samples
from clipn_kernel.export import verify_bundle
from conftest import REPO


def test_the_world_is_deterministic_from_its_seed():
    a = list(samples(7, ID_SHAPES, 12))
    b = list(samples(7, ID_SHAPES, 12))
    assert [s.caption for s in a] == [s.caption for s in b]
    assert all(np.array_equal(np.asarray(x.image), np.asarray(y.image)) for x, y in zip(a, b))
    assert [s.caption for s in samples(8, ID_SHAPES, 12)] != [s.caption for s in a]


def test_captions_name_their_shape_and_training_never_shows_ood_shapes():
    for s in samples(3, ID_SHAPES, 300):
        assert s.shape in ID_SHAPES
        assert s.shape in s.caption
        assert not any(o in s.caption for o in OOD_SHAPES)
    assert set(ID_SHAPES).isdisjoint(OOD_SHAPES)
    assert all("{}" in t for t in DEMO_TEMPLATES)


def test_the_committed_demo_bundle_verifies_and_records_its_quality_honestly():
    bundle = REPO / "models" / "demo"
    manifest = verify_bundle(bundle)
    assert manifest["name"] == "demo"
    assert sum(f["bytes"] for f in manifest["files"].values()) < 12_000_000
    quality = json.loads((bundle / "quality.json").read_text())
    assert quality["command"] == "python -m clipn_kernel demo build --out models/demo --heldout models/demo-heldout --seed 0"
    result, targets = quality["result"], quality["targets"]
    assert result["modelVersion"] == manifest["modelVersion"]
    # The record says whether each target is met, and says it truthfully (QUALITY.md too).
    met = {"idAccuracy": result["idAccuracy"] >= targets["idAccuracy"], "atdAuroc": result["mean"]["atd"]["auroc"] >= targets["atdAuroc"]}
    assert quality["met"] == met
    text = (bundle / "QUALITY.md").read_text()
    assert f"**{result['idAccuracy']:.4f}**" in text
    assert ("(target >= 0.9: met)" if met["idAccuracy"] else "(target >= 0.9: NOT met)") in text
