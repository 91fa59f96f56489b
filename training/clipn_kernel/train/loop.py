"""The `train-prompts` loop: CLIPN losses on fixed image embeddings and captions.

The image tower and the yes tower are frozen, so the image embeddings f and the yes-text
embeddings g are computed once; each step only runs the no tower on the batch's captions.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from ..losses import clipn_losses_open
from ..model import CLIPN
from .samples import Sample

MODES = ("prompts", "no-tower")
EpochHook = Callable[[int, int, float, float], None]


@dataclass(frozen=True)
class TrainData:
    f: torch.Tensor  # [N,D] L2-normalised image embeddings
    ids: torch.Tensor  # [M,L] caption ids, cut after the longest caption's end-of-text
    g: torch.Tensor  # [M,D] L2-normalised yes-text embeddings (frozen)
    text_of: torch.Tensor  # [N] caption row of each sample, -1 when it has none
    group: torch.Tensor  # [N] concept index; a sample with group null gets one of its own
    owner: torch.Tensor  # [M] the sample each caption belongs to
    ood: torch.Tensor  # [N] bool, kind == "ood"


@torch.no_grad()
def prepare(model: CLIPN, samples: Sequence[Sample], ids: torch.Tensor, device: torch.device, chunk: int = 256) -> TrainData:
    """Fixed tensors of a training run, on `device`; ids are the captioned samples' ids in order."""
    model.eval()
    f = F.normalize(torch.tensor([s.embedding for s in samples], dtype=torch.float32), dim=-1)
    # The causal mask makes the padding after the last end-of-text irrelevant: cut it once.
    length = int((ids != 0).sum(dim=1).max())
    ids = ids[:, :length].to(device)
    g = torch.cat([F.normalize(model.encode_text(ids[i : i + chunk]), dim=-1) for i in range(0, ids.shape[0], chunk)])
    names: dict[str, int] = {}
    group, text_of, owner = [], [], []
    for i, s in enumerate(samples):
        group.append(names.setdefault(s.group, len(names)) if s.group is not None else -1 - i)
        text_of.append(len(owner) if s.text is not None else -1)
        if s.text is not None:
            owner.append(i)
    as_long = lambda xs: torch.tensor(xs, dtype=torch.long, device=device)  # noqa: E731
    ood = torch.tensor([s.kind == "ood" for s in samples], dtype=torch.bool, device=device)
    return TrainData(f.to(device), ids, g, as_long(text_of), as_long(group), as_long(owner), ood)


def balanced_rows(ood: torch.Tensor) -> torch.Tensor | None:
    """Row weights giving the OOD images of a batch as much L_no weight as its ID images.

    Reviewed data is mostly ID: in the plain average the ID-vs-ID pairs, which the serving model
    already gets right, outweigh the few new-concept rows the run is for. None when the batch
    holds only one kind (nothing to balance).
    """
    n_ood = int(ood.sum())
    n_id = ood.numel() - n_ood
    if n_ood == 0 or n_id == 0:
        return None
    return torch.where(ood, 0.5 / n_ood, 0.5 / n_id).to(torch.float32)


def set_trainable(model: CLIPN, mode: str) -> list[torch.nn.Parameter]:
    """prompts: prompt_no only; no-tower: every `_no` parameter (the paper's CLIPN set)."""
    if mode not in MODES:
        raise ValueError(f"--mode expected one of {', '.join(MODES)}, got {mode!r}")
    names = {"prompt_no"} if mode == "prompts" else set(model.trainable_parameter_names())
    for name, param in model.named_parameters():
        param.requires_grad_(name in names)
    return [p for n, p in model.named_parameters() if n in names]


def batch_loss(model: CLIPN, data: TrainData, idx: torch.Tensor, scale: torch.Tensor, balance: bool = False) -> torch.Tensor | None:
    """Total CLIPN loss of the samples idx (balance: OOD and ID rows of L_no weigh the same); None
    when none of them has a caption."""
    rows = data.text_of[idx]
    has = rows >= 0
    if not bool(has.any()):
        return None
    cols = rows[has]
    positive = torch.full_like(rows, -1)
    positive[has] = torch.arange(cols.shape[0], device=rows.device)
    # A caption of the same concept describes the image too: not a negative (own caption included).
    negatives = data.group[idx][:, None] != data.group[data.owner[cols]][None, :]
    h = F.normalize(model.encode_text_no(data.ids[cols]), dim=-1)
    weights = balanced_rows(data.ood[idx]) if balance else None
    return clipn_losses_open(data.f[idx], data.g[cols], h, scale, positive, negatives, weights)["total"]


def _lr_factor(step: int, total: int) -> float:
    """Short linear warm-up, then cosine decay to zero."""
    warmup = max(1, total // 20)
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train(model: CLIPN, data: TrainData, *, mode: str, epochs: int, lr: float, batch: int, weight_decay: float, seed: int,
          on_epoch: EpochHook | None = None, balance: bool = False) -> list[float]:
    """AdamW over the trainable set; returns the per-epoch mean loss. Randomness (shuffling, the
    per-caption choice among the 16 prompts and their mean) comes from generators seeded here."""
    params = set_trainable(model, mode)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    shuffle = torch.Generator().manual_seed(seed)
    model.prompt_generator = torch.Generator().manual_seed(seed + 1)
    scale = model.logit_scale.detach().exp().clamp(max=100.0)
    n = data.f.shape[0]
    steps = math.ceil(n / batch)
    curve: list[float] = []
    started = time.perf_counter()
    model.train()
    try:
        for epoch in range(epochs):
            order = torch.randperm(n, generator=shuffle).to(data.f.device)
            total, counted = 0.0, 0
            for b in range(steps):
                loss = batch_loss(model, data, order[b * batch : (b + 1) * batch], scale, balance)
                if loss is None:
                    continue
                for group in opt.param_groups:
                    group["lr"] = lr * _lr_factor(epoch * steps + b, epochs * steps)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach())
                counted += 1
            curve.append(total / max(1, counted))
            if on_epoch is not None:
                on_epoch(epoch + 1, epochs, curve[-1], time.perf_counter() - started)
    finally:
        model.prompt_generator = None
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
    return curve
