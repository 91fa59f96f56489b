"""The CLIPN training losses (reference/CLIPN.md): binary-opposite and text semantic-opposite."""

from __future__ import annotations

import torch


def clipn_losses(
    f: torch.Tensor, g: torch.Tensor, h: torch.Tensor, scale: torch.Tensor | float, negatives: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Losses of one batch of N image-text pairs.

    f: image embeddings, g: yes-text, h: no-text, each [N,D] and L2-normalised;
    scale: exp(logit_scale).
    For each pair (i,j) q_ij = softmax over {s f_i.g_j, s f_i.h_j}:
    L_yes = -(1/N) sum_i log q_ii[yes]; L_no = -(1/(N^2-N)) sum_{i!=j} log q_ij[no];
    L_tso = mean_i (2 - sqrt(2 - 2 g_i.h_i + 1e-4)); total = 0.5 (L_yes + L_no + L_tso).
    """
    n = f.shape[0]
    if n < 2:
        raise ValueError(f"clipn_losses needs a batch of at least 2 pairs, got {n}")
    logits_yes = scale * f @ g.t()
    logits_no = scale * f @ h.t()
    # log q[yes] = l_yes - logsumexp(l_yes, l_no); log q[no] likewise.
    log_norm = torch.logaddexp(logits_yes, logits_no)
    log_q_yes = logits_yes - log_norm
    log_q_no = logits_no - log_norm
    eye = torch.eye(n, dtype=torch.bool, device=f.device)
    l_yes = -log_q_yes[eye].mean()
    pairs = ~eye if negatives is None else (negatives & ~eye)
    l_no = -log_q_no[pairs].sum() / pairs.sum().clamp(min=1)
    l_tso = (2.0 - torch.sqrt(2.0 - 2.0 * (g * h).sum(dim=-1) + 1e-4)).mean()
    total = 0.5 * (l_yes + l_no + l_tso)
    return {"l_yes": l_yes, "l_no": l_no, "l_tso": l_tso, "total": total}
