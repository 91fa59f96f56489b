"""The served score as a training objective: the ATD log-odds of each image against the class
heads of a label set, built in the step from the no tower (mean prompt, as the sidecar serves).

CLIPN's own losses push every caption's no-text toward every other image; what the sidecar ranks
with is only ATD against the label set's heads. Training that score directly moves the heads of
the classes a new concept is mistaken for, and leaves the others (and the concepts near them) be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from ..model import CLIPN
from ..scoring import format_template
from ..tokenizer import tokenize


@dataclass(frozen=True)
class LabelHeads:
    """The label set's texts (every label in every template) and its fixed yes heads."""

    ids: torch.Tensor  # [K*T, L] token ids, label-major
    labels: int
    templates: int
    w_yes: torch.Tensor  # [K, D] L2-normalised yes heads (frozen)
    scale: float  # the logit scale the sidecar scores with (manifest scoring.logitScale), not the training one


def _pool(emb: torch.Tensor, labels: int, templates: int) -> torch.Tensor:
    """[K*T, D] text embeddings -> [K, D] heads: normalise, sum over templates, normalise."""
    return F.normalize(F.normalize(emb, dim=-1).reshape(labels, templates, -1).sum(dim=1), dim=-1)


@torch.no_grad()
def label_heads(model: CLIPN, labels: Sequence[str], templates: Sequence[str], context_length: int, device: torch.device, scale: float) -> LabelHeads:
    """Tokenises the label set and encodes its yes heads once."""
    if not labels or not templates:
        raise ValueError(f"label heads: expected at least one label and one template, got {len(labels)} and {len(templates)}")
    ids = tokenize([format_template(t, label) for label in labels for t in templates], context_length)
    length = int((ids != 0).sum(dim=1).max())
    ids = ids[:, :length].to(device)
    model.eval()
    return LabelHeads(ids, len(labels), len(templates), _pool(model.encode_text(ids), len(labels), len(templates)), scale)


def no_heads(model: CLIPN, heads: LabelHeads) -> torch.Tensor:
    """[K, D] no heads with the mean prompt (differentiable)."""
    return _pool(model.encode_text_no(heads.ids, model.mean_prompt()), heads.labels, heads.templates)


def atd_log_odds(f: torch.Tensor, w_yes: torch.Tensor, w_no: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """[N] ATD log-odds (ID positive) of L2-normalised images, as clipn_kernel.scoring computes them."""
    l_yes = scale * f @ w_yes.t()
    d = l_yes - scale * f @ w_no.t()
    log_p = torch.log_softmax(l_yes, dim=-1)
    return torch.logsumexp(log_p + F.logsigmoid(d), dim=-1) - torch.logsumexp(log_p + F.logsigmoid(-d), dim=-1)


def served_loss(f: torch.Tensor, ood: torch.Tensor, w_yes: torch.Tensor, w_no: torch.Tensor, scale: torch.Tensor | float, id_margin: float = 0.0) -> torch.Tensor:
    """Logistic loss of the ATD log-odds (ID images: ID, by at least id_margin; OOD images: OOD);
    each kind present weighs half."""
    lo = atd_log_odds(f, w_yes, w_no, scale)
    per = F.softplus(torch.where(ood, lo, id_margin - lo))
    kinds = [per[mask].mean() for mask in (ood, ~ood) if bool(mask.any())]
    return torch.stack(kinds).mean()


def head_distill_loss(f: torch.Tensor, ood: torch.Tensor, w_no: torch.Tensor, w_no0: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """Mean squared change of the images' no-logits against each head: two-sided for ID images,
    only the decrease for OOD images."""
    change = scale * (f @ w_no.t() - f @ w_no0.t())
    per = torch.where(ood[:, None], torch.clamp(change, max=0.0), change)
    return (per * per).mean()


def score_distill_loss(f: torch.Tensor, ood: torch.Tensor, w_yes: torch.Tensor, w_no: torch.Tensor, w_no0: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """Mean squared change of the served ATD log-odds: two-sided for ID images, only the rise for
    OOD images (they may become more OOD, never less)."""
    change = atd_log_odds(f, w_yes, w_no, scale) - atd_log_odds(f, w_yes, w_no0, scale).detach()
    per = torch.where(ood, torch.clamp(change, min=0.0), change)
    return (per * per).mean()


def ranking_loss(f: torch.Tensor, ood: torch.Tensor, w_yes: torch.Tensor, w_no: torch.Tensor, scale: torch.Tensor | float, margin: float) -> torch.Tensor:
    """Pairwise logistic loss softplus(lo_ood - lo_id + margin) over every (ID, OOD) pair of the
    batch: AUROC's own surrogate, satisfied (and then quiet) once each OOD image ranks `margin`
    log-odds below each ID image. Zero when the batch holds one kind only."""
    lo = atd_log_odds(f, w_yes, w_no, scale)
    if not bool(ood.any()) or bool(ood.all()):
        return lo.sum() * 0.0
    return F.softplus(lo[ood][None, :] - lo[~ood][:, None] + margin).mean()


def head_l2_loss(w_no: torch.Tensor, w_no0: torch.Tensor) -> torch.Tensor:
    """Sum over the heads of their squared distance to the starting heads."""
    return ((w_no - w_no0) ** 2).sum()
