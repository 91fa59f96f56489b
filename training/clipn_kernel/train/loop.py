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
from .adapters import add_adapters, merge_adapters
from .samples import Sample
from .served import LabelHeads, head_distill_loss, head_l2_loss, no_heads, ranking_loss, score_distill_loss, served_loss

MODES = ("prompts", "no-tower")
DISTILL_ON = ("score", "logits")
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


@dataclass(frozen=True)
class Keep:
    """What a run optimises besides CLIPN's losses, and how it keeps what its starting model knew
    (the defaults are the paper's plain CLIPN losses).

    clipn: weight of the CLIPN losses on the captions.
    served: weight of the logistic loss of the served ATD score against the label set's heads
      (needs `heads`; see served.py).
    l2: weight of sum ||theta - theta_0||^2 over the trained parameters (L2-SP toward the start).
    distill: weight of the no-logit distillation against the starting tower, on the batch's
      images: ID images keep their no-logits (squared change), OOD images may only gain. Against
      the label set's heads when there are heads, else against the batch's captions.
    lora_rank: > 0 trains rank-r adapters on the no tower's matrices (merged when training ends)
      plus the prompts, instead of every `_no` parameter (no-tower mode only).
    distill_on: "score" distils the served ATD log-odds, "logits" the raw no-logits.
    jitter, jitter_sigma: that many noisy copies (noise norm about sigma) of each ID image join the
      score distillation, anchoring the neighbourhood of the reviewed ID images too.
    served_form, rank_margin: "logistic" (per image) or "ranking" (per ID/OOD pair, with that margin).
    head_l2: weight of the squared distance of the label set's no heads to their start.
    id_margin: the log-odds the logistic served loss asks of ID images.
    Experiments only (training/EXPERIMENTS.md) set the fields without a kernel flag.
    """

    clipn: float = 1.0
    served: float = 0.0
    l2: float = 0.0
    distill: float = 0.0
    lora_rank: int = 0
    distill_on: str = "score"
    jitter: int = 0
    jitter_sigma: float = 0.5
    served_form: str = "logistic"
    rank_margin: float = 5.0
    head_l2: float = 0.0
    id_margin: float = 0.0


@dataclass(frozen=True)
class Anchors:
    """The starting model's outputs the distillation compares with."""

    captions: torch.Tensor | None  # [M,D] no-text embeddings of the captions
    heads: torch.Tensor | None  # [K,D] no heads of the label set
    generator: torch.Generator | None = None


def batch_loss(model: CLIPN, data: TrainData, idx: torch.Tensor, scale: torch.Tensor, balance: bool = False,
               keep: Keep | None = None, heads: LabelHeads | None = None, anchors: Anchors | None = None) -> torch.Tensor | None:
    """The loss of the samples idx: keep.clipn times the CLIPN losses of the captioned ones
    (balance: OOD and ID rows of L_no weigh the same), keep.served times the served-score loss,
    keep.distill times the distillation; None when no term applies (no caption, no heads)."""
    keep = keep or Keep()
    terms: list[torch.Tensor] = []
    f, ood = data.f[idx], data.ood[idx]
    rows = data.text_of[idx]
    has = rows >= 0
    h: torch.Tensor | None = None
    cols = rows[has]
    if bool(has.any()) and (keep.clipn > 0 or (keep.distill > 0 and heads is None)):
        positive = torch.full_like(rows, -1)
        positive[has] = torch.arange(cols.shape[0], device=rows.device)
        # A caption of the same concept describes the image too: not a negative (own caption included).
        negatives = data.group[idx][:, None] != data.group[data.owner[cols]][None, :]
        h = F.normalize(model.encode_text_no(data.ids[cols]), dim=-1)
        if keep.clipn > 0:
            weights = balanced_rows(ood) if balance else None
            terms.append(keep.clipn * clipn_losses_open(f, data.g[cols], h, scale, positive, negatives, weights)["total"])
    w_no = no_heads(model, heads) if heads is not None and (keep.served > 0 or keep.distill > 0 or keep.head_l2 > 0) else None
    if w_no is not None and keep.served > 0:
        if keep.served_form == "ranking":
            terms.append(keep.served * ranking_loss(f, ood, heads.w_yes, w_no, heads.scale, keep.rank_margin))  # type: ignore[union-attr]
        else:
            terms.append(keep.served * served_loss(f, ood, heads.w_yes, w_no, heads.scale, keep.id_margin))  # type: ignore[union-attr]
    if w_no is not None and keep.head_l2 > 0 and anchors is not None and anchors.heads is not None:
        terms.append(keep.head_l2 * head_l2_loss(w_no, anchors.heads))
    if keep.distill > 0 and anchors is not None:
        if w_no is not None and anchors.heads is not None and keep.distill_on == "score":
            fa, oa = f, ood
            if keep.jitter > 0:
                fa, oa = jittered(f, ood, keep.jitter, keep.jitter_sigma, anchors.generator)
            terms.append(keep.distill * score_distill_loss(fa, oa, heads.w_yes, w_no, anchors.heads, heads.scale))  # type: ignore[union-attr]
        elif w_no is not None and anchors.heads is not None:
            terms.append(keep.distill * head_distill_loss(f, ood, w_no, anchors.heads, heads.scale))
        elif h is not None and anchors.captions is not None:
            terms.append(keep.distill * distill_loss(f, h, anchors.captions[cols], ood, scale))
    return torch.stack(terms).sum() if terms else None


def jittered(f: torch.Tensor, ood: torch.Tensor, copies: int, sigma: float, gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The images plus `copies` noisy neighbours of each ID image (isotropic noise of norm about
    sigma, renormalised): anchors around the reviewed ID images, not only on them."""
    base = f[~ood]
    if base.shape[0] == 0:
        return f, ood
    noise = torch.randn((copies, *base.shape), generator=gen).to(f.device) * (sigma / base.shape[1] ** 0.5)
    near = F.normalize(base[None] + noise, dim=-1).reshape(-1, base.shape[1])
    return torch.cat([f, near]), torch.cat([ood, torch.zeros(near.shape[0], dtype=torch.bool, device=f.device)])


def distill_loss(f: torch.Tensor, h: torch.Tensor, h0: torch.Tensor, ood: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """Mean squared no-logit change of [N] images against [M] captions: two-sided for ID images,
    only the decrease for OOD images (saying "no" to them more is what a run is for)."""
    change = scale * (f @ h.t() - f @ h0.t())
    per = torch.where(ood[:, None], torch.clamp(change, max=0.0), change)
    return (per * per).mean()


@torch.no_grad()
def anchors_of(model: CLIPN, data: TrainData, heads: LabelHeads | None, chunk: int = 256) -> Anchors:
    """The starting model's no-text embeddings of the captions (mean prompt, what the sidecar
    serves) and its no heads of the label set."""
    model.eval()
    ids = data.ids
    captions = torch.cat([F.normalize(model.encode_text_no(ids[i : i + chunk]), dim=-1) for i in range(0, ids.shape[0], chunk)]) if ids.shape[0] else None
    return Anchors(captions, no_heads(model, heads) if heads is not None else None, torch.Generator().manual_seed(12345))


def _lr_factor(step: int, total: int) -> float:
    """Short linear warm-up, then cosine decay to zero."""
    warmup = max(1, total // 20)
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train(model: CLIPN, data: TrainData, *, mode: str, epochs: int, lr: float, batch: int, weight_decay: float, seed: int,
          on_epoch: EpochHook | None = None, balance: bool = False, keep: Keep | None = None, heads: LabelHeads | None = None) -> list[float]:
    """AdamW over the trainable set; returns the per-epoch mean loss. Randomness (shuffling, the
    per-caption choice among the 16 prompts and their mean) comes from generators seeded here.
    `keep` adds the terms that hold the model near where it started (see Keep)."""
    keep = keep or Keep()
    if keep.lora_rank > 0 and mode != "no-tower":
        raise ValueError(f"adapters (rank {keep.lora_rank}) apply to the no tower: expected --mode no-tower, got {mode}")
    if keep.served > 0 and heads is None:
        raise ValueError("the served-score loss needs the label set's heads (--labels)")
    anchors = anchors_of(model, data, heads) if keep.distill > 0 or keep.head_l2 > 0 else None
    params = set_trainable(model, mode)
    if keep.lora_rank > 0:
        for p in params:
            p.requires_grad_(False)
        model.prompt_no.requires_grad_(True)
        params = [model.prompt_no, *add_adapters(model, keep.lora_rank)]
    start = [p.detach().clone() for p in params] if keep.l2 > 0 else []
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
                loss = batch_loss(model, data, order[b * batch : (b + 1) * batch], scale, balance, keep, heads, anchors)
                if loss is None:
                    continue
                if start:
                    loss = loss + keep.l2 * sum(((p - p0) ** 2).sum() for p, p0 in zip(params, start))
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
        if keep.lora_rank > 0:
            merge_adapters(model)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
    return curve
