"""Training-free dense-CLIP variants: how the last ViT block is changed for the ``'dense'`` output.

Each published variant changes only the last block of a frozen CLIP ViT and adds no parameter
(``docs/methods/dense_clip.md``): which attention mixes the patch tokens, and whether the
block's attention residual and its MLP branch are kept.

- MaskCLIP (Zhou et al., ECCV 2022): no mixing, each token's own value;
- SCLIP (Wang et al., ECCV 2024, correlative self-attention):
  ``softmax(s q q^T) + softmax(s k k^T)`` applied to the values;
- ClearCLIP (Lan et al., ECCV 2024): ``softmax(s q q^T)``, residual and MLP removed;
- NACLIP (Hajimiri et al., WACV 2025): ``softmax(s k k^T + B)`` with ``B`` a Gaussian
  of the patch-grid distance (std 5; the class token gets no bias), residual and MLP removed.

``s`` is the block's own scale ``head_dim ** -0.5``; every head of the block is used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

AttentionKind = Literal['value', 'qq+kk', 'qq', 'kk+neighbourhood']


@dataclass(frozen=True)
class DenseVariant:
    """What one variant does in the last block.

    Attributes:
        attention: ``'value'`` (no token mixing), ``'qq+kk'``, ``'qq'`` or
            ``'kk+neighbourhood'`` (see :func:`mix_values`).
        residual: Keep the attention residual (the block's input ``x +``).
        mlp: Keep the MLP branch (``+ mlp(ln_2(.))``, with its own skip).
        neighbourhood_std: Std (in patches) of the Gaussian bias; only for
            ``'kk+neighbourhood'``.
    """

    attention: AttentionKind
    residual: bool
    mlp: bool
    neighbourhood_std: float | None = None


DENSE_VARIANTS: dict[str, DenseVariant] = {
    'maskclip': DenseVariant('value', residual=True, mlp=False),
    'sclip': DenseVariant('qq+kk', residual=True, mlp=True),
    'clearclip': DenseVariant('qq', residual=False, mlp=False),
    'naclip': DenseVariant('kk+neighbourhood', residual=False, mlp=False, neighbourhood_std=5.0),
}


def get_dense_variant(
    name: str,
    *,
    residual: bool | None = None,
    mlp: bool | None = None,
    neighbourhood_std: float | None = None,
) -> DenseVariant:
    """A variant of :data:`DENSE_VARIANTS`, with optional overrides (None keeps the table's).

    Raises:
        ValueError: Unknown name, or a neighbourhood std for a variant without one.
    """
    if name not in DENSE_VARIANTS:
        raise ValueError(
            f'dense_attention={name!r} is not a known variant; choose one of '
            f'{sorted(DENSE_VARIANTS)}'
        )
    variant = DENSE_VARIANTS[name]
    if neighbourhood_std is not None:
        if variant.neighbourhood_std is None:
            raise ValueError(
                f'dense_neighbourhood_std is only used by the neighbourhood-biased variant '
                f"('naclip'), not by {name!r}"
            )
        if neighbourhood_std <= 0:
            raise ValueError(f'dense_neighbourhood_std must be > 0, got {neighbourhood_std}')
        variant = replace(variant, neighbourhood_std=float(neighbourhood_std))
    if residual is not None:
        variant = replace(variant, residual=bool(residual))
    if mlp is not None:
        variant = replace(variant, mlp=bool(mlp))
    return variant


def neighbourhood_bias(
    grid: tuple[int, int],
    std: float,
    *,
    num_prefix_tokens: int = 1,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """NACLIP's attention bias: a Gaussian of the distance between two patches of the grid.

    ``B[i, j] = exp(-|p_i - p_j|^2 / (2 std^2))`` for patches at grid positions ``p_i``,
    ``p_j`` (row-major, as the tokens), 0 in the rows and columns of the prefix tokens (the
    class token gets no neighbourhood).

    Args:
        grid: The actual patch grid (h, w) of the input (not the pretraining grid).
        std: Standard deviation in patches.
        num_prefix_tokens: Tokens before the patches (1: the class token).
        device: Device of the result.
        dtype: Dtype of the result.

    Returns:
        Tensor: [N, N] with N = num_prefix_tokens + h * w.
    """
    h, w = grid
    rows, cols = torch.meshgrid(
        torch.arange(h, device=device, dtype=torch.float32),
        torch.arange(w, device=device, dtype=torch.float32),
        indexing='ij',
    )
    points = torch.stack([rows.flatten(), cols.flatten()], dim=1)  # [hw, 2]
    gaussian = torch.exp(-torch.cdist(points, points).square() / (2.0 * std**2))
    return F.pad(gaussian, (num_prefix_tokens, 0, num_prefix_tokens, 0)).to(dtype)


def mix_values(
    kind: AttentionKind,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    grid: tuple[int, int] | None = None,
    neighbourhood_std: float | None = None,
    queries: slice = slice(None),
) -> Tensor:
    """Per-head mixing of the values by a variant's attention (scale ``head_dim ** -0.5``).

    - ``'value'``: ``v`` itself (MaskCLIP);
    - ``'qq+kk'``: ``(softmax(s q q^T) + softmax(s k k^T)) v`` (SCLIP);
    - ``'qq'``: ``softmax(s q q^T) v`` (ClearCLIP);
    - ``'kk+neighbourhood'``: ``softmax(s k k^T + B) v``, ``B`` of :func:`neighbourhood_bias`
      on ``grid`` (NACLIP).

    Args:
        kind: The attention kind.
        q, k, v: [B, heads, N, head_dim], tokens class token first.
        grid: Patch grid (h, w), N = 1 + h * w (needed by ``'kk+neighbourhood'``).
        neighbourhood_std: Std of the Gaussian bias in patches.
        queries: Which tokens to compute the output for (e.g. ``slice(1, None)``: the patches);
            every token stays a key.

    Returns:
        Tensor: [B, heads, N_queries, head_dim].
    """
    if kind == 'value':
        return v[:, :, queries]
    if kind == 'qq':
        return F.scaled_dot_product_attention(q[:, :, queries], q, v)
    if kind == 'qq+kk':
        by_q = F.scaled_dot_product_attention(q[:, :, queries], q, v)
        return by_q + F.scaled_dot_product_attention(k[:, :, queries], k, v)
    if kind == 'kk+neighbourhood':
        if grid is None or neighbourhood_std is None:
            raise ValueError("'kk+neighbourhood' attention needs the patch grid and the std")
        tokens = k.shape[2]
        prefix = tokens - grid[0] * grid[1]
        if prefix < 0:
            raise ValueError(f'{tokens} tokens cannot hold a {grid[0]} x {grid[1]} patch grid')
        bias = neighbourhood_bias(
            grid, neighbourhood_std, num_prefix_tokens=prefix, device=k.device, dtype=k.dtype
        )
        return F.scaled_dot_product_attention(k[:, :, queries], k, v, attn_mask=bias[queries])
    raise ValueError(f'unknown dense attention kind {kind!r}')
