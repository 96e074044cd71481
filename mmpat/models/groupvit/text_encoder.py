"""GroupViT's text transformer: CLIP-style, causal, pooled at the end-of-text (EOT) token.

GroupViT-S (Xu et al., CVPR 2022): width 256, 12 layers, 4 heads, QuickGELU, pre-LN, context
77, CLIP's BPE (see ``docs/methods/groupvit.md``). Tokenisation uses ``open_clip``'s bundled BPE
(no downloads). Parameter names follow the released checkpoints
(``transformer.resblocks.{i}.attn.in_proj_weight``, ``ln_final``, ...).

:class:`GroupViTTextTransformer` is the transformer alone (features of the EOT token, before
the projection into the joint image-text space). The registered text encoder, with its
projector and the vocabulary encoding, is
:class:`mmpat.models.text_encoders.GroupViTTextEncoder`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)`` (CLIP's GELU approximation)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class CausalSelfAttention(nn.Module):
    """Causal multi-head self-attention with a packed ``in_proj`` (CLIP layout).

    Args:
        width (int): Channels.
        heads (int): Heads.
    """

    def __init__(self, *, width: int, heads: int) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f'text width {width} is not divisible by heads {heads}')
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.normal_(self.in_proj_weight, std=width**-0.5)

    def forward(self, x: Tensor) -> Tensor:
        """[B, L, C] -> [B, L, C] (token i sees tokens <= i)."""
        batch, length, width = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.view(batch, length, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_causal=True)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, width))


class TextMlp(nn.Module):
    """``c_fc`` -> QuickGELU -> ``c_proj``."""

    def __init__(self, *, width: int, hidden: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, hidden)
        self.gelu = QuickGELU()
        self.c_proj = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.c_proj(self.gelu(self.c_fc(x)))


class ResidualAttentionBlock(nn.Module):
    """Pre-LN block: ``x + attn(ln_1(x))``, ``x + mlp(ln_2(x))``."""

    def __init__(self, *, width: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width=width, heads=heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = TextMlp(width=width, hidden=int(width * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class _Transformer(nn.Module):
    def __init__(self, *, width: int, heads: int, layers: int, mlp_ratio: float) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(
            ResidualAttentionBlock(width=width, heads=heads, mlp_ratio=mlp_ratio)
            for _ in range(layers)
        )

    def forward(self, x: Tensor) -> Tensor:
        for block in self.resblocks:
            x = block(x)
        return x


class GroupViTTextTransformer(BaseModule):
    """Causal text transformer pooled at the EOT token (defaults: GroupViT-S).

    Args:
        context_length (int): Tokens per text (longer texts are truncated, EOT kept).
        vocab_size (int): BPE vocabulary (49408 for CLIP's).
        width (int): Channels.
        heads (int): Attention heads.
        layers (int): Blocks.
        mlp_ratio (float): MLP hidden / width.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(
        self,
        *,
        context_length: int = 77,
        vocab_size: int = 49408,
        width: int = 256,
        heads: int = 4,
        layers: int = 12,
        mlp_ratio: float = 4.0,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.context_length = context_length
        self.vocab_size = vocab_size
        self.width = width
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.transformer = _Transformer(
            width=width, heads=heads, layers=layers, mlp_ratio=mlp_ratio
        )
        self.ln_final = nn.LayerNorm(width)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)

    def tokenize(self, texts: str | Sequence[str]) -> Tensor:
        """CLIP BPE token ids [T, context_length] (SOT ... EOT, zero padded, truncated)."""
        import open_clip  # local import: only needed when encoding strings

        texts = [texts] if isinstance(texts, str) else list(texts)
        return open_clip.tokenize(texts, context_length=self.context_length)

    def forward(self, tokens: Tensor) -> Tensor:
        """Encode token ids.

        Args:
            tokens (Tensor): Token ids [T, L] (L <= context_length); the EOT token must be the
                largest id of each row (true for CLIP BPE).

        Returns:
            Tensor: Pooled features at the EOT token after ``ln_final`` [T, width].
        """
        if tokens.dim() != 2 or tokens.shape[1] > self.context_length:
            raise ValueError(
                f'tokens must be [T, L] with L <= {self.context_length}, got {tuple(tokens.shape)}'
            )
        eot = tokens.argmax(dim=-1)
        # Causal attention: nothing after a row's EOT reaches its pooled EOT feature, so the
        # padding after the longest text is cut (same output, far less work for short texts).
        length = int(eot.max()) + 1
        x = self.token_embedding(tokens[:, :length]) + self.positional_embedding[:length]
        x = self.transformer(x)
        return self.ln_final(x[torch.arange(x.shape[0], device=x.device), eot])

    def encode_text(self, texts: str | Sequence[str]) -> Tensor:
        """Tokenise and encode strings -> [T, width]."""
        device = self.positional_embedding.device
        return self(self.tokenize(texts).to(device))
