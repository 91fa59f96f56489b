"""Transformer building blocks with the open_clip parameter names, so checkpoints load as published."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class QuickGELU(nn.Module):
    """The GELU approximation of the original OpenAI CLIP weights (config key quick_gelu)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever the weights' dtype (fp16 exports stay stable)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        return F.layer_norm(x.float(), self.normalized_shape, self.weight.float(), self.bias.float(), self.eps).to(dtype)


class Attention(nn.Module):
    """Multi-head self-attention, parameters named like nn.MultiheadAttention (in_proj_*, out_proj)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        n, length, width = x.shape
        head_dim = width // self.heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.reshape(n, length, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(head_dim))
        if mask is not None:
            scores = scores + mask
        out = torch.matmul(scores.softmax(dim=-1), v)
        return self.out_proj(out.transpose(1, 2).reshape(n, length, width))


class Mlp(nn.Module):
    def __init__(self, width: int, hidden: int, act: type[nn.Module]) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, hidden)
        self.gelu = act()
        self.c_proj = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.gelu(self.c_fc(x)))


class ResidualBlock(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: float, act: type[nn.Module]) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = LayerNorm(width)
        self.mlp = Mlp(width, int(width * mlp_ratio), act)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of pre-norm residual blocks over [N, L, W] (batch first)."""

    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: float, act: type[nn.Module]) -> None:
        super().__init__()
        self.width = width
        self.layers = layers
        self.resblocks = nn.ModuleList(ResidualBlock(width, heads, mlp_ratio, act) for _ in range(layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x

    def init_weights(self) -> None:
        proj_std = (self.width**-0.5) * ((2 * self.layers) ** -0.5)
        for block in self.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=self.width**-0.5)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * self.width) ** -0.5)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)


class VisionTransformer(nn.Module):
    """The CLIP ViT image tower: patchify, class token, transformer, class-token projection."""

    def __init__(self, image_size: int, patch_size: int, width: int, layers: int, heads: int, mlp_ratio: float, output_dim: int, act: type[nn.Module]) -> None:
        super().__init__()
        scale = width**-0.5
        grid = image_size // patch_size
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(width, layers, heads, mlp_ratio, act)
        self.ln_post = LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))
        self.transformer.init_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = x.flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(x.dtype).reshape(1, 1, -1).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj


class TokenEmbedding(nn.Module):
    """Token embedding; with a vocabulary subset, ids outside it share the last row."""

    def __init__(self, vocab_size: int, width: int, subset: tuple[int, ...] | None) -> None:
        super().__init__()
        rows = vocab_size if subset is None else len(subset) + 1
        self.weight = nn.Parameter(torch.empty(rows, width))
        nn.init.normal_(self.weight, std=0.02)
        if subset is not None:
            id_map = torch.full((vocab_size,), len(subset), dtype=torch.long)
            id_map[torch.tensor(subset, dtype=torch.long)] = torch.arange(len(subset))
            # Derived from the config, so not part of the state dict.
            self.register_buffer("id_map", id_map, persistent=False)
        else:
            self.id_map = None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.id_map is not None:
            ids = self.id_map[ids]
        return F.embedding(ids, self.weight)
