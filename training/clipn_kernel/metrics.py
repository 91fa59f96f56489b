"""OOD metrics on ID scores (ID is the positive class): AUROC and FPR at 95% TPR."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def roc_curve(id_scores: ArrayLike, ood_scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) points from the highest threshold down, starting at (0,0); ties form one step."""
    pos = np.asarray(id_scores, dtype=np.float64)
    neg = np.asarray(ood_scores, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("roc_curve needs at least one ID and one OOD score")
    scores = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones_like(pos), np.zeros_like(neg)])
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    distinct = np.where(np.diff(scores))[0]
    ends = np.r_[distinct, labels.size - 1]
    tps = np.cumsum(labels)[ends]
    fps = (ends + 1) - tps
    tpr = np.r_[0.0, tps / pos.size]
    fpr = np.r_[0.0, fps / neg.size]
    return fpr, tpr


def auroc(id_scores: ArrayLike, ood_scores: ArrayLike) -> float:
    fpr, tpr = roc_curve(id_scores, ood_scores)
    return float(np.trapezoid(tpr, fpr))


def fpr_at_tpr(id_scores: ArrayLike, ood_scores: ArrayLike, tpr_level: float = 0.95) -> float:
    """FPR where the ROC curve first reaches the TPR level, linearly interpolated between its points."""
    fpr, tpr = roc_curve(id_scores, ood_scores)
    i = int(np.argmax(tpr >= tpr_level))  # first point at or past the level (tpr ends at 1)
    if tpr[i] == tpr_level or i == 0:
        return float(fpr[i])
    t0, t1, f0, f1 = tpr[i - 1], tpr[i], fpr[i - 1], fpr[i]
    return float(f0 + (f1 - f0) * (tpr_level - t0) / (t1 - t0))


def fpr_at_95_tpr(id_scores: ArrayLike, ood_scores: ArrayLike) -> float:
    return fpr_at_tpr(id_scores, ood_scores, 0.95)
