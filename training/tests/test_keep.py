"""What keeps a run near its start: the served score, adapters, no-tower checkpoints, the objective's flags."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from clipn_kernel.checkpoint import CheckpointError, load_clipn_checkpoint, load_no_tower, save_no_tower
from clipn_kernel.cli import main
from clipn_kernel.model import parse_model_config
from clipn_kernel.scoring import build_heads, score
from clipn_kernel.train.adapters import add_adapters, merge_adapters
from clipn_kernel.train.served import atd_log_odds, label_heads, no_heads, score_distill_loss, served_loss

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "models" / "demo"
LABELS = ["circle", "square", "triangle"]
TEMPLATES = ["a {}", "a photo of a {}"]


@pytest.fixture(scope="module")
def demo_model():
    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    cfg = parse_model_config(manifest["architecture"]["config"], name=manifest["architecture"]["name"])
    return load_clipn_checkpoint(BUNDLE / "checkpoint.pt", cfg)


def images(n: int, dim: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_training_heads_score_as_the_scorer_does(demo_model):
    """The served score the loss trains is the one clipn_kernel.scoring (and the sidecar) ranks
    with. The scorer works in float64, training in float32: log-odds of tens agree to 1e-3."""
    heads = label_heads(demo_model, LABELS, TEMPLATES, demo_model.cfg.text.context_length, torch.device("cpu"), 100.0)
    with torch.no_grad():
        w_no = no_heads(demo_model, heads)
    w_yes_ref, w_no_ref = build_heads(demo_model, LABELS, TEMPLATES)
    torch.testing.assert_close(heads.w_yes, w_yes_ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(w_no, w_no_ref, rtol=0, atol=1e-5)
    f = images(16, demo_model.cfg.embed_dim, 0)
    torch.testing.assert_close(atd_log_odds(f, heads.w_yes, w_no, 100.0).double(), score(f, w_yes_ref, w_no_ref).atd_log_odds, rtol=0, atol=1e-3)


def test_served_loss_and_distillation_point_the_right_way():
    dim, k = 8, 3
    w_yes = F.normalize(torch.randn(k, dim, generator=torch.Generator().manual_seed(1)), dim=-1)
    w_no = F.normalize(torch.randn(k, dim, generator=torch.Generator().manual_seed(2)), dim=-1).requires_grad_(True)
    f = images(6, dim, 3)
    ood = torch.tensor([True, True, True, False, False, False])
    loss = served_loss(f, ood, w_yes, w_no, 10.0)
    loss.backward()
    with torch.no_grad():
        stepped = w_no - 0.01 * w_no.grad
        before, after = atd_log_odds(f, w_yes, w_no, 10.0), atd_log_odds(f, w_yes, stepped, 10.0)
        gap = lambda lo: float(lo[~ood].mean() - lo[ood].mean())  # noqa: E731
        assert float(served_loss(f, ood, w_yes, stepped, 10.0)) < float(loss)
    assert gap(after) > gap(before), "a step separates ID from OOD images (the heads are shared: not each image alone)"
    # Distillation: zero at the start; an OOD image may become more OOD for free, an ID image may not move.
    w0 = w_no.detach()
    assert float(score_distill_loss(f, ood, w_yes, w0, w0, 10.0)) == 0.0
    shifted = w0 + 0.1 * torch.randn(k, dim, generator=torch.Generator().manual_seed(4))
    change = atd_log_odds(f, w_yes, shifted, 10.0) - atd_log_odds(f, w_yes, w0, 10.0)
    expected = torch.where(ood, change.clamp(min=0.0), change).pow(2).mean()
    torch.testing.assert_close(score_distill_loss(f, ood, w_yes, shifted, w0, 10.0), expected)


def test_adapters_start_as_no_change_and_merge_into_a_plain_tower(demo_model):
    model = copy.deepcopy(demo_model)
    ids = torch.randint(1, 400, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = model.encode_text_no(ids)
    params = add_adapters(model, 2)
    with torch.no_grad():
        torch.testing.assert_close(model.encode_text_no(ids), plain, rtol=0, atol=1e-6)
        for p in params[1::2]:
            p.add_(0.01)  # move every B: the adapted tower changes
        adapted = model.encode_text_no(ids)
    assert not torch.allclose(adapted, plain)
    merge_adapters(model)
    assert set(model.state_dict()) == set(demo_model.state_dict()), "merged: the same names as a plain CLIPN"
    with torch.no_grad():
        torch.testing.assert_close(model.encode_text_no(ids), adapted, rtol=0, atol=1e-5)


def test_no_tower_round_trip_and_refusal(demo_model, tmp_path):
    model = copy.deepcopy(demo_model)
    with torch.no_grad():
        model.text_projection_no.add_(0.5)
    save_no_tower(model, tmp_path / "no_tower.pt")
    fresh = copy.deepcopy(demo_model)
    load_no_tower(fresh, tmp_path / "no_tower.pt")
    assert torch.equal(fresh.text_projection_no, model.text_projection_no)
    state = torch.load(tmp_path / "no_tower.pt")
    state.pop("text_projection_no")
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="missing keys"):
        load_no_tower(copy.deepcopy(demo_model), tmp_path / "partial.pt")


def test_objective_flags_need_a_label_set(tmp_path, capsys):
    rows = [{"id": f"i{i}", "embedding": [0.1] * 128, "text": "a circle", "group": "circle", "kind": "id"} for i in range(4)]
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = main(["train-prompts", "--bundle", str(BUNDLE), "--samples", str(samples), "--out", str(tmp_path / "o"), "--device", "cpu", "--served-weight", "1"])
    assert code == 2
    assert "--label-set" in capsys.readouterr().err
