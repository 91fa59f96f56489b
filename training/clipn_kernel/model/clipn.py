"""CLIPN: an open_clip ViT CLIP with a second ("no") text tower and 16 learnable "no" prompts."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import ModelConfig
from .layers import LayerNorm, QuickGELU, TokenEmbedding, Transformer, VisionTransformer

NUM_NO_PROMPTS = 16


class CLIPN(nn.Module):
    """Parameter names match official CLIPN checkpoints: the open_clip CLIP names plus `*_no`."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        act: type[nn.Module] = QuickGELU if cfg.quick_gelu else nn.GELU
        v, t = cfg.vision, cfg.text
        self.context_length = t.context_length
        self.visual = VisionTransformer(v.image_size, v.patch_size, v.width, v.layers, v.heads, v.mlp_ratio, cfg.embed_dim, act)

        self.transformer = Transformer(t.width, t.layers, t.heads, t.mlp_ratio, act)
        self.token_embedding = TokenEmbedding(t.vocab_size, t.width, t.vocab_subset)
        self.positional_embedding = nn.Parameter(torch.empty(t.context_length, t.width))
        self.ln_final = LayerNorm(t.width)
        self.text_projection = nn.Parameter(torch.empty(t.width, cfg.embed_dim))

        self.transformer_no = Transformer(t.width, t.layers, t.heads, t.mlp_ratio, act)
        self.token_embedding_no = TokenEmbedding(t.vocab_size, t.width, t.vocab_subset)
        self.positional_embedding_no = nn.Parameter(torch.empty(t.context_length, t.width))
        self.ln_final_no = LayerNorm(t.width)
        self.text_projection_no = nn.Parameter(torch.empty(t.width, cfg.embed_dim))
        self.prompt_no = nn.Parameter(torch.zeros(NUM_NO_PROMPTS, t.context_length, t.width))

        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        mask = torch.full((t.context_length, t.context_length), float("-inf")).triu_(1)
        self.register_buffer("attn_mask", mask, persistent=False)
        # Seedable prompt sampling in training (no global RNG state).
        self.prompt_generator: torch.Generator | None = None
        self._init_text_weights()

    def _init_text_weights(self) -> None:
        for tower in ("", "_no"):
            nn.init.normal_(getattr(self, f"positional_embedding{tower}"), std=0.01)
            transformer: Transformer = getattr(self, f"transformer{tower}")
            transformer.init_weights()
            nn.init.normal_(getattr(self, f"text_projection{tower}"), std=transformer.width**-0.5)

    # -- towers -------------------------------------------------------------------------------
    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """[N,3,S,S] normalised pixels -> [N,D] image embeddings (not normalised)."""
        return self.visual(pixels)

    def _text_tower(self, x: torch.Tensor, ids: torch.Tensor, no: bool) -> torch.Tensor:
        transformer = self.transformer_no if no else self.transformer
        ln = self.ln_final_no if no else self.ln_final
        proj = self.text_projection_no if no else self.text_projection
        length = x.shape[1]
        x = ln(transformer(x, self.attn_mask[:length, :length].to(x.dtype)))
        # The end-of-text token has the largest id, so argmax finds it.
        eot = x[torch.arange(x.shape[0], device=x.device), ids.argmax(dim=-1)]
        return eot @ proj

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """[N,77] token ids -> [N,D] yes-tower text embeddings (not normalised)."""
        x = self.token_embedding(ids) + self.positional_embedding[: ids.shape[1]]
        return self._text_tower(x, ids, no=False)

    def encode_text_no(self, ids: torch.Tensor, prompt: torch.Tensor | None = None) -> torch.Tensor:
        """[N,77] ids -> [N,D] no-tower embeddings.

        prompt None: in training each sample adds one of 17 tensors drawn uniformly (the 16
        prompts or their mean); in eval the mean prompt. A [77,W] or [N,77,W] tensor is added as given.
        """
        # Ids may be cut after the last end-of-text (training does): the causal mask makes that exact.
        length = ids.shape[1]
        x = self.token_embedding_no(ids) + self.positional_embedding_no[:length]
        if prompt is None:
            if self.training:
                choices = torch.cat([self.prompt_no, self.prompt_no.mean(dim=0, keepdim=True)], dim=0)
                idx = torch.randint(0, choices.shape[0], (ids.shape[0],), generator=self.prompt_generator)
                prompt = choices[idx.to(choices.device)]
            else:
                prompt = self.mean_prompt()
        return self._text_tower(x + prompt[..., :length, :], ids, no=True)

    def mean_prompt(self) -> torch.Tensor:
        """The inference-time prompt: the mean of the 16 "no" prompts, [77,W]."""
        return self.prompt_no.mean(dim=0)

    # -- training set-up ----------------------------------------------------------------------
    @torch.no_grad()
    def init_no_tower_from_yes(self) -> None:
        """Starts the no tower as an exact copy of the yes tower and the prompts at zero (as the paper)."""
        self.transformer_no.load_state_dict(self.transformer.state_dict())
        self.token_embedding_no.weight.copy_(self.token_embedding.weight)
        self.positional_embedding_no.copy_(self.positional_embedding)
        self.ln_final_no.load_state_dict(self.ln_final.state_dict())
        self.text_projection_no.copy_(self.text_projection)
        self.prompt_no.zero_()

    def trainable_parameter_names(self) -> list[str]:
        """CLIPN trains every parameter whose name contains `_no`; everything else stays frozen."""
        return [name for name, _ in self.named_parameters() if "_no" in name]

    def freeze_for_clipn(self) -> None:
        trainable = set(self.trainable_parameter_names())
        for name, param in self.named_parameters():
            param.requires_grad_(name in trainable)
