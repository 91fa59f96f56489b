"""Low-rank adapters on the no tower: W + (alpha / r) B A per matrix, merged back into W at the end.

Only the adapters (and the prompts) train, so a run can move the no tower in few directions; the
merged tower is an ordinary CLIPN no tower (same names, same ONNX graph).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..model import CLIPN


class LowRankDelta(nn.Module):
    """A parametrization adding (scale) B @ A to a [out, in] matrix; B starts at zero (no change)."""

    def __init__(self, rows: int, cols: int, rank: int, scale: float, device: torch.device, dtype: torch.dtype) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.empty(rank, cols, device=device, dtype=dtype))
        self.b = nn.Parameter(torch.zeros(rows, rank, device=device, dtype=dtype))
        nn.init.kaiming_uniform_(self.a, a=math.sqrt(5))
        self.scale = scale

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + self.scale * (self.b @ self.a)


def adapted_matrices(model: CLIPN) -> list[tuple[nn.Module, str]]:
    """(module, parameter name) of every matrix of the no tower that gets an adapter: attention
    in/out projections, both MLP layers of every block, and the text projection."""
    out: list[tuple[nn.Module, str]] = []
    for block in model.transformer_no.resblocks:
        out += [(block.attn, "in_proj_weight"), (block.attn.out_proj, "weight"), (block.mlp.c_fc, "weight"), (block.mlp.c_proj, "weight")]
    out.append((model, "text_projection_no"))
    return out


def add_adapters(model: CLIPN, rank: int, alpha: float | None = None) -> list[nn.Parameter]:
    """Registers rank-`rank` adapters (scale alpha / rank, alpha defaulting to rank) and returns their parameters."""
    if rank < 1:
        raise ValueError(f"adapter rank: expected an integer >= 1, got {rank}")
    params: list[nn.Parameter] = []
    for module, name in adapted_matrices(model):
        weight = getattr(module, name)
        rows, cols = weight.shape
        delta = LowRankDelta(rows, cols, min(rank, rows, cols), (alpha or rank) / rank, weight.device, weight.dtype)
        parametrize.register_parametrization(module, name, delta)
        params += [delta.a, delta.b]
    return params


def merge_adapters(model: CLIPN) -> None:
    """Folds every adapter into its matrix and removes it (the model is a plain CLIPN again)."""
    for module, name in adapted_matrices(model):
        if parametrize.is_parametrized(module, name):
            parametrize.remove_parametrizations(module, name, leave_parametrized=True)
