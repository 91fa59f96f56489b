"""Checkpoints: official CLIPN state dicts (strict), plain open_clip CLIP ones, and saving."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

import torch

from .model import CLIPN, ModelConfig


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model config."""


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Reads a state dict saved plain or under 'state_dict', dropping a DataParallel 'module.' prefix."""
    obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a state dict (a mapping of names to tensors), got {type(obj).__name__}")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items()}


def _describe(keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def _load_strict(model: CLIPN, state: dict[str, torch.Tensor], path: str | Path, allowed_missing: set[str] | None = None) -> None:
    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in state and k not in (allowed_missing or set()))
    unexpected = sorted(k for k in state if k not in expected)
    problems = []
    if missing:
        problems.append(f"missing keys: {_describe(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_describe(unexpected)}")
    wrong_shape = [f"{k} {tuple(state[k].shape)} vs model {tuple(v.shape)}" for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if wrong_shape:
        problems.append(f"shape mismatches: {_describe(wrong_shape)}")
    if problems:
        raise CheckpointError(f"{path} does not fit model config {model.cfg.name}: " + "; ".join(problems))
    model.load_state_dict({k: v for k, v in state.items()}, strict=False)


def load_clipn_checkpoint(path: str | Path, cfg: ModelConfig) -> CLIPN:
    """Loads an official-format CLIPN checkpoint; every key must match (names and shapes)."""
    model = CLIPN(cfg)
    _load_strict(model, read_state_dict(path), path)
    return model.eval()


def load_clip_checkpoint(path: str | Path, cfg: ModelConfig) -> CLIPN:
    """Starts CLIPN from a plain open_clip CLIP checkpoint: the yes tower is copied into the no tower, prompts zeroed."""
    model = CLIPN(cfg)
    no_keys = {k for k in model.state_dict() if "_no" in k}
    state = read_state_dict(path)
    present_no = sorted(k for k in state if "_no" in k)
    if present_no:
        raise CheckpointError(f"{path} already has no-tower keys ({_describe(present_no)}): load it as a CLIPN checkpoint")
    _load_strict(model, state, path, allowed_missing=no_keys)
    model.init_no_tower_from_yes()
    return model.eval()


def save_checkpoint(model: CLIPN, path: str | Path, *, half: bool = False) -> str:
    """Saves in the official format ({'state_dict': {'module.' + name: tensor}}); returns its sha256."""
    state = {f"module.{k}": (v.half() if half and v.is_floating_point() else v).detach().cpu().clone() for k, v in model.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state}, path)
    return file_sha256(path)


NO_TOWER_FILE = "no_tower.pt"


def save_no_tower(model: CLIPN, path: str | Path) -> None:
    """The no tower alone (every `_no` parameter, the prompts included) as a plain state dict, so
    a later run can continue from a released tower."""
    names = set(model.trainable_parameter_names())
    torch.save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k in names}, path)


def load_no_tower(model: CLIPN, path: str | Path) -> None:
    """Replaces the model's no tower with one save_no_tower wrote; names and shapes must match exactly."""
    state = read_state_dict(path)
    names = set(model.trainable_parameter_names())
    own = model.state_dict()
    missing = sorted(names - set(state))
    unexpected = sorted(set(state) - names)
    wrong = [f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in sorted(names & set(state)) if state[k].shape != own[k].shape]
    problems = ([f"missing keys: {_describe(missing)}"] if missing else []) + ([f"unexpected keys: {_describe(unexpected)}"] if unexpected else [])
    problems += [f"shape mismatches: {_describe(wrong)}"] if wrong else []
    if problems:
        raise CheckpointError(f"{path}: expected the no tower of model config {model.cfg.name}: " + "; ".join(problems))
    bad = [k for k, v in state.items() if not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{path}: expected finite weights, got NaN or infinity in {_describe(bad)}")
    model.load_state_dict(state, strict=False)
