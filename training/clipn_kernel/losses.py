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


def clipn_losses_open(
    f: torch.Tensor, g: torch.Tensor, h: torch.Tensor, scale: torch.Tensor | float, positive: torch.Tensor, negatives: torch.Tensor,
    row_weight: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The CLIPN losses when some images have no caption of their own.

    f: [N,D] images; g, h: [M,D] yes/no embeddings of the M captions in the batch (all L2-normalised).
    positive: [N] int64, the column of image i's own caption, or -1 when it has none.
    negatives: [N,M] bool, pairs whose caption does not describe the image (the caller excludes
    each image's own caption and captions of the same concept).
    An image without a caption adds only its row of L_no terms. With M == N, positive = arange(N)
    and negatives = mask & ~eye, this equals clipn_losses(f, g, h, scale, mask).
    Terms with nothing to average over (no captioned image, no negative pair) are 0.
    row_weight: optional [N] weights of the images' L_no rows (the paper's loss: all 1); L_no is
    then the weighted mean sum_i w_i sum_j term_ij / sum_i w_i |negatives of i|.
    """
    logits_yes = scale * f @ g.t()
    logits_no = scale * f @ h.t()
    log_norm = torch.logaddexp(logits_yes, logits_no)
    rows = torch.nonzero(positive >= 0).flatten()
    zero = f.new_zeros(()) + 0.0 * h.sum()  # keeps the graph when a term is empty
    if rows.numel():
        cols = positive[rows]
        l_yes = -(logits_yes[rows, cols] - log_norm[rows, cols]).mean()
    else:
        l_yes = zero
    pairs = negatives.to(torch.bool)
    if pairs.any():
        w = pairs.to(f.dtype) if row_weight is None else pairs.to(f.dtype) * row_weight.to(f.dtype)[:, None]
        l_no = -((logits_no - log_norm) * w).sum() / w.sum()
    else:
        l_no = zero
    l_tso = (2.0 - torch.sqrt(2.0 - 2.0 * (g * h).sum(dim=-1) + 1e-4)).mean() if g.shape[0] else zero
    total = 0.5 * (l_yes + l_no + l_tso)
    return {"l_yes": l_yes, "l_no": l_no, "l_tso": l_tso, "total": total}
