"""Class heads from a label set and the CLIPN scores (reference/CLIPN.md), in PyTorch.

This is the reference the TypeScript runtime is tested against (golden files).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from .model import CLIPN
from .tokenizer import tokenize

LOGIT_SCALE = 100.0


def format_template(template: str, label: str) -> str:
    """Python str.format with one positional field, the way the reference formats each line as is."""
    return template.format(label)


@torch.no_grad()
def build_heads(model: CLIPN, labels: Sequence[str], templates: Sequence[str], prompt: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """W_yes, W_no [K,D]: per label, the L2-normalised sum over templates of L2-normalised text embeddings."""
    model.eval()
    yes = []
    no = []
    for label in labels:
        ids = tokenize([format_template(t, label) for t in templates])
        g = F.normalize(model.encode_text(ids), dim=-1).sum(dim=0)
        h = F.normalize(model.encode_text_no(ids, prompt), dim=-1).sum(dim=0)
        yes.append(F.normalize(g, dim=-1))
        no.append(F.normalize(h, dim=-1))
    return torch.stack(yes), torch.stack(no)


@dataclass(frozen=True)
class Scores:
    """Per-image scores; every field is a [N] tensor."""

    index: torch.Tensor
    ctw: torch.Tensor
    atd: torch.Tensor
    msp: torch.Tensor
    max_logit: torch.Tensor
    energy: torch.Tensor
    ood_ctw: torch.Tensor
    ood_atd: torch.Tensor


def score(image_embeds: torch.Tensor, w_yes: torch.Tensor, w_no: torch.Tensor, logit_scale: float = LOGIT_SCALE) -> Scores:
    """CTW, ATD and the baselines for [N,D] image embeddings (normalised here) against [K,D] heads."""
    f = F.normalize(image_embeds.double(), dim=-1)
    l_yes = logit_scale * f @ w_yes.double().t()
    l_no = logit_scale * f @ w_no.double().t()
    p = torch.softmax(l_yes, dim=-1)
    index = p.argmax(dim=-1)
    p_yes = torch.sigmoid(l_yes - l_no)  # exp(a)/(exp(a)+exp(b)), computed stably
    ctw = p_yes.gather(1, index[:, None])[:, 0]
    weighted = p_yes * p
    atd = weighted.sum(dim=-1)
    return Scores(
        index=index,
        ctw=ctw,
        atd=atd,
        msp=p.max(dim=-1).values,
        max_logit=l_yes.max(dim=-1).values,
        energy=torch.logsumexp(l_yes, dim=-1),
        ood_ctw=ctw < 0.5,
        ood_atd=(1.0 - atd) > weighted.max(dim=-1).values,
    )
