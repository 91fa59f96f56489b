import pytest
import torch

from clipn_kernel.checkpoint import CheckpointError, load_clip_checkpoint, load_clipn_checkpoint, read_state_dict, save_checkpoint
from clipn_kernel.export import export_bundle, verify_bundle
from clipn_kernel.model import CLIPN


def test_official_format_loads_and_exports(tiny_model, tiny_cfg, tmp_path):
    ckpt = tmp_path / "clipn.pt"
    # Official format: DataParallel 'module.' prefixes under 'state_dict'.
    torch.save({"state_dict": {f"module.{k}": v for k, v in tiny_model.state_dict().items()}, "epoch": 10}, ckpt)
    loaded = load_clipn_checkpoint(ckpt, tiny_cfg)
    for k, v in tiny_model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)
    manifest = export_bundle(loaded, tiny_cfg, tmp_path / "bundle", name="tiny", checkpoint_path=ckpt, log=lambda _: None)
    assert verify_bundle(tmp_path / "bundle")["modelVersion"] == manifest["modelVersion"]
    assert manifest["source"]["sha256"] == manifest["files"]["checkpoint.pt"]["sha256"]


def test_plain_state_dict_without_prefix_loads(tiny_model, tiny_cfg, tmp_path):
    ckpt = tmp_path / "plain.pt"
    torch.save(tiny_model.state_dict(), ckpt)
    assert load_clipn_checkpoint(ckpt, tiny_cfg).prompt_no.shape == (16, 77, 48)


def test_missing_no_key_is_named(tiny_model, tiny_cfg, tmp_path):
    state = {f"module.{k}": v for k, v in tiny_model.state_dict().items() if k != "text_projection_no"}
    ckpt = tmp_path / "missing.pt"
    torch.save({"state_dict": state}, ckpt)
    with pytest.raises(CheckpointError, match=r"missing keys: text_projection_no"):
        load_clipn_checkpoint(ckpt, tiny_cfg)


def test_unexpected_and_misshaped_keys_are_named(tiny_model, tiny_cfg, tmp_path):
    state = dict(tiny_model.state_dict())
    state["visual.extra_head.weight"] = torch.zeros(2)
    state["prompt_no"] = torch.zeros(8, 77, 48)
    ckpt = tmp_path / "bad.pt"
    torch.save(state, ckpt)
    with pytest.raises(CheckpointError) as err:
        load_clipn_checkpoint(ckpt, tiny_cfg)
    assert "unexpected keys: visual.extra_head.weight" in str(err.value)
    assert "prompt_no (8, 77, 48) vs model (16, 77, 48)" in str(err.value)


def test_plain_clip_checkpoint_copies_the_yes_tower_and_zeros_prompts(tiny_model, tiny_cfg, tmp_path):
    clip_state = {k: v for k, v in tiny_model.state_dict().items() if "_no" not in k}
    ckpt = tmp_path / "clip.pt"
    torch.save(clip_state, ckpt)
    model = load_clip_checkpoint(ckpt, tiny_cfg)
    torch.testing.assert_close(model.transformer_no.resblocks[0].attn.in_proj_weight, tiny_model.transformer.resblocks[0].attn.in_proj_weight)
    torch.testing.assert_close(model.text_projection_no, tiny_model.text_projection)
    assert torch.count_nonzero(model.prompt_no) == 0


def test_a_clipn_checkpoint_is_not_taken_as_plain_clip(tiny_model, tiny_cfg, tmp_path):
    ckpt = tmp_path / "clipn.pt"
    torch.save(tiny_model.state_dict(), ckpt)
    with pytest.raises(CheckpointError, match="already has no-tower keys"):
        load_clip_checkpoint(ckpt, tiny_cfg)


def test_save_writes_the_official_format(tiny_model, tmp_path):
    path = tmp_path / "out.pt"
    save_checkpoint(tiny_model, path)
    raw = torch.load(path, weights_only=True)
    assert all(k.startswith("module.") for k in raw["state_dict"])
    assert set(read_state_dict(path)) == set(tiny_model.state_dict())


def test_not_a_state_dict_is_refused(tiny_cfg, tmp_path):
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="expected a state dict"):
        load_clipn_checkpoint(path, tiny_cfg)
    assert isinstance(CLIPN(tiny_cfg), CLIPN)
