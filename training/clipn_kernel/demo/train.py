"""Makes the demo model: contrastive CLIP pretraining on the synthetic world, then CLIPN training."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..export import CLIP_MEAN, CLIP_STD
from ..losses import clipn_losses
from ..model import CLIPN, ModelConfig, parse_model_config
from ..tokenizer import tokenize
from .world import AUX_SHAPES, DEMO_TEMPLATES, ID_SHAPES, Sample, samples, training_cycle, vocabulary_texts

IMAGE_SIZE = 64


def demo_config_dict() -> dict:
    """The tiny architecture; its token table keeps only the ids the world and templates use."""
    ids = tokenize(vocabulary_texts() + [t.replace("{}", "x") for t in DEMO_TEMPLATES])
    kept = sorted(set(int(i) for i in ids.flatten().tolist()) - {0})
    return {
        "embed_dim": 128,
        "vision_cfg": {"image_size": IMAGE_SIZE, "layers": 3, "width": 96, "patch_size": 8, "head_width": 32},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 96, "heads": 4, "layers": 3, "vocab_subset": kept},
    }


def demo_config() -> ModelConfig:
    return parse_model_config(demo_config_dict(), name="clipn-demo")


def to_tensor(images: Sequence) -> torch.Tensor:
    """PIL images already S x S -> normalised NCHW (the bundle's preprocessing, with no resize needed)."""
    arr = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 for im in images])
    arr = (arr - np.array(CLIP_MEAN, dtype=np.float32)) / np.array(CLIP_STD, dtype=np.float32)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


@dataclass
class Dataset:
    pixels: torch.Tensor
    ids: torch.Tensor
    classes: torch.Tensor
    captions: list[str]


def make_dataset(seed: int, shapes: tuple[str, ...], n: int, cycle: tuple[str, ...] | None = None) -> Dataset:
    """n rendered samples drawn in `cycle` order (default: shapes); classes index into shapes."""
    items: list[Sample] = list(samples(seed, cycle or shapes, n, IMAGE_SIZE))
    ids = tokenize([s.caption for s in items])
    # Padding after the last end-of-text token changes nothing under the causal mask: cut it.
    ids = ids[:, : int((ids != 0).sum(dim=1).max())]
    return Dataset(
        pixels=to_tensor([s.image for s in items]),
        ids=ids,
        classes=torch.tensor([shapes.index(s.shape) for s in items]),
        captions=[s.caption for s in items],
    )


def _cosine(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _loop(model: CLIPN, data: Dataset, params: list[torch.nn.Parameter], *, epochs: int, batch: int, lr: float, wd: float, seed: int,
          loss_fn: Callable[[CLIPN, Dataset, torch.Tensor], dict[str, torch.Tensor]], log: Callable[[str], None], tag: str) -> list[float]:
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    gen = torch.Generator().manual_seed(seed)
    n = data.pixels.shape[0]
    steps_per_epoch = n // batch
    total = epochs * steps_per_epoch
    curve: list[float] = []
    step = 0
    started = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        running = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * batch : (b + 1) * batch]
            for group in opt.param_groups:
                group["lr"] = lr * _cosine(step, total, warmup=max(1, total // 20))
            losses = loss_fn(model, data, idx)
            opt.zero_grad(set_to_none=True)
            losses["total"].backward()
            opt.step()
            running += float(losses["total"].detach())
            step += 1
        curve.append(running / steps_per_epoch)
        log(f"{tag} epoch {epoch + 1}/{epochs} loss {curve[-1]:.4f} ({time.perf_counter() - started:.0f} s)")
    return curve


def _clip_loss(model: CLIPN, data: Dataset, idx: torch.Tensor) -> dict[str, torch.Tensor]:
    f = F.normalize(model.encode_image(data.pixels[idx]), dim=-1)
    g = F.normalize(model.encode_text(data.ids[idx]), dim=-1)
    logits = model.logit_scale.exp().clamp(max=100) * f @ g.t()
    # Every caption names its image's shape, so captions of the same shape are not negatives of
    # each other: the positives of an image are all the captions of its shape in the batch.
    classes = data.classes[idx]
    same = (classes[:, None] == classes[None, :]).float()
    target = same / same.sum(dim=1, keepdim=True)
    loss = 0.5 * (-(target * logits.log_softmax(dim=1)).sum(1).mean() - (target * logits.log_softmax(dim=0)).sum(0).mean())
    return {"total": loss}


def _clipn_loss(model: CLIPN, data: Dataset, idx: torch.Tensor) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        f = F.normalize(model.encode_image(data.pixels[idx]), dim=-1)
        g = F.normalize(model.encode_text(data.ids[idx]), dim=-1)
    h = F.normalize(model.encode_text_no(data.ids[idx]), dim=-1)
    # A caption of another image of the same shape ("a star") also describes image i: not a negative.
    classes = data.classes[idx]
    negatives = classes[:, None] != classes[None, :]
    return clipn_losses(f, g, h, model.logit_scale.exp().detach(), negatives)


def pretrain_clip(model: CLIPN, data: Dataset, *, epochs: int, batch: int, lr: float, seed: int, log: Callable[[str], None]) -> list[float]:
    params = [p for n, p in model.named_parameters() if "_no" not in n]
    model.train()
    return _loop(model, data, params, epochs=epochs, batch=batch, lr=lr, wd=0.1, seed=seed, loss_fn=_clip_loss, log=log, tag="clip")


def train_clipn(model: CLIPN, data: Dataset, *, epochs: int, batch: int, lr: float, seed: int, log: Callable[[str], None]) -> list[float]:
    model.init_no_tower_from_yes()
    model.freeze_for_clipn()
    model.train()
    model.prompt_generator = torch.Generator().manual_seed(seed + 1)
    params = [p for p in model.parameters() if p.requires_grad]
    curve = _loop(model, data, params, epochs=epochs, batch=batch, lr=lr, wd=0.2, seed=seed, loss_fn=_clipn_loss, log=log, tag="clipn")
    model.prompt_generator = None
    for p in model.parameters():
        p.requires_grad_(True)
    return curve


def save_curves(path: str, curves: dict[str, list[float]]) -> None:
    with open(path, "w") as fh:
        json.dump(curves, fh, indent=1)


ID_LABELS = list(ID_SHAPES)
# Every concept the demo model is trained on: its labels and the auxiliary shapes (never the OOD ones).
TRAIN_CONCEPTS: tuple[str, ...] = ID_SHAPES + AUX_SHAPES
TRAIN_CYCLE: tuple[str, ...] = training_cycle()
