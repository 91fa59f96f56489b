"""Model configs in the open_clip JSON layout: embed_dim, vision_cfg, text_cfg."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class VisionConfig:
    image_size: int = 224
    layers: int = 12
    width: int = 768
    patch_size: int = 16
    head_width: int = 64
    mlp_ratio: float = 4.0

    @property
    def heads(self) -> int:
        return self.width // self.head_width

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size


@dataclass(frozen=True)
class TextConfig:
    context_length: int = 77
    vocab_size: int = 49408
    width: int = 512
    heads: int = 8
    layers: int = 12
    mlp_ratio: float = 4.0
    # Sorted BPE ids kept in the token embedding (small models); None keeps the whole vocabulary.
    vocab_subset: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ModelConfig:
    embed_dim: int
    vision: VisionConfig
    text: TextConfig
    quick_gelu: bool = False
    name: str = "custom"
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


_KNOWN_VISION = {f for f in VisionConfig.__dataclass_fields__}
_KNOWN_TEXT = {f for f in TextConfig.__dataclass_fields__}


class ConfigError(ValueError):
    """A model config that cannot describe a CLIPN ViT model."""


def parse_model_config(raw: dict[str, Any], name: str = "custom") -> ModelConfig:
    """Validates an open_clip-style dict and returns a ModelConfig."""
    try:
        vision_raw = dict(raw["vision_cfg"])
        text_raw = dict(raw["text_cfg"])
        embed_dim = int(raw["embed_dim"])
    except KeyError as exc:
        raise ConfigError(f"model config {name}: missing key {exc.args[0]!r}") from exc
    if isinstance(vision_raw.get("layers"), (list, tuple)):
        raise ConfigError(f"model config {name}: ResNet image towers are not supported, only ViT")
    if vision_raw.get("timm_model_name"):
        raise ConfigError(f"model config {name}: timm image towers are not supported, only ViT")
    vision = VisionConfig(**{k: v for k, v in vision_raw.items() if k in _KNOWN_VISION})
    subset = text_raw.get("vocab_subset")
    if subset is not None:
        subset = tuple(sorted(int(i) for i in subset))
        if not subset or len(set(subset)) != len(subset) or subset[0] < 0 or subset[-1] >= int(text_raw.get("vocab_size", 49408)):
            raise ConfigError(f"model config {name}: vocab_subset must hold distinct ids within the vocabulary, got {len(subset)} ids")
    text = TextConfig(**{k: v for k, v in text_raw.items() if k in _KNOWN_TEXT and k != "vocab_subset"}, vocab_subset=subset)
    if vision.image_size % vision.patch_size != 0:
        raise ConfigError(f"model config {name}: image_size {vision.image_size} is not a multiple of patch_size {vision.patch_size}")
    if vision.width % vision.head_width != 0 or text.width % text.heads != 0:
        raise ConfigError(f"model config {name}: widths must divide into heads")
    return ModelConfig(embed_dim=embed_dim, vision=vision, text=text, quick_gelu=bool(raw.get("quick_gelu", False)), name=name, raw=dict(raw))


def load_model_config(name_or_path: str | Path) -> ModelConfig:
    """Loads a shipped config by name (ViT-B-16, ViT-B-32, ViT-L-14) or any JSON file by path."""
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        if not path.exists():
            raise ConfigError(f"model config file not found: {path}")
        return parse_model_config(json.loads(path.read_text()), name=path.stem)
    shipped = resources.files("clipn_kernel").joinpath("model_configs", f"{name_or_path}.json")
    if not shipped.is_file():
        known = sorted(p.name[:-5] for p in resources.files("clipn_kernel").joinpath("model_configs").iterdir())
        raise ConfigError(f"unknown model config {name_or_path!r}; shipped: {', '.join(known)}")
    return parse_model_config(json.loads(shipped.read_text()), name=str(name_or_path))
