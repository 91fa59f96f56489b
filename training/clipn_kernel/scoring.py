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
    """Per-image scores; every field is a [N] tensor.

    ctw, atd and msp are the published probabilities; they saturate at exactly 1.0 in float64 for
    confident images, so images that differ tie. The *_log_odds fields are the same quantities as
    log(score / (1 - score)), computed in log space: monotone in the published score and distinct
    where it saturates. Rank, calibrate and compare with them.
    """

    index: torch.Tensor
    ctw: torch.Tensor
    atd: torch.Tensor
    msp: torch.Tensor
    max_logit: torch.Tensor
    energy: torch.Tensor
    ctw_log_odds: torch.Tensor
    atd_log_odds: torch.Tensor
    msp_log_odds: torch.Tensor
    ood_ctw: torch.Tensor
    ood_atd: torch.Tensor


def score(image_embeds: torch.Tensor, w_yes: torch.Tensor, w_no: torch.Tensor, logit_scale: float = LOGIT_SCALE) -> Scores:
    """CTW, ATD and the baselines for [N,D] image embeddings (normalised here) against [K,D] heads."""
    f = F.normalize(image_embeds.double(), dim=-1)
    l_yes = logit_scale * f @ w_yes.double().t()
    l_no = logit_scale * f @ w_no.double().t()
    log_p = torch.log_softmax(l_yes, dim=-1)
    index = log_p.argmax(dim=-1)
    d = l_yes - l_no  # per class: log(p_yes / p_no)
    ctw_log_odds = d.gather(1, index[:, None])[:, 0]
    log_weighted = log_p + F.logsigmoid(d)  # log(p_yes_i p_i)
    log_atd = torch.logsumexp(log_weighted, dim=-1)
    log_ood = torch.logsumexp(log_p + F.logsigmoid(-d), dim=-1)  # log(1 - ATD) = log(sum_i p_no_i p_i)
    others = l_yes.scatter(1, index[:, None], float("-inf"))
    msp_log_odds = l_yes.gather(1, index[:, None])[:, 0] - torch.logsumexp(others, dim=-1)
    return Scores(
        index=index,
        ctw=torch.sigmoid(ctw_log_odds),
        atd=torch.exp(log_atd),
        msp=torch.exp(log_p.max(dim=-1).values),
        max_logit=l_yes.max(dim=-1).values,
        energy=torch.logsumexp(l_yes, dim=-1),
        ctw_log_odds=ctw_log_odds,
        atd_log_odds=log_atd - log_ood,
        msp_log_odds=msp_log_odds,
        # The decisions of reference/CLIPN.md, taken in log space: p_no_c > p_yes_c, and p_ood > max_i p_yes_i p_i.
        ood_ctw=ctw_log_odds < 0,
        ood_atd=log_ood > log_weighted.max(dim=-1).values,
    )
