"""Prefix-shared prompt encoding: run a learnable prompt's prefix once for all its classes.

With CoOp/MVP-SEG prompts ``[SOS] ctx_1..ctx_n name. [EOS]`` and CLIP's causal text
transformer, the hidden states of positions ``0..n_ctx`` (start token + context vectors) do not
depend on the class. :func:`encode_prefix_shared` therefore runs the prefix ``[P, 1 + n_ctx, W]``
once per prompt through every layer, keeping each layer's prefix keys and values, and then runs
only the class-name suffix tokens (``name . [EOS]``) of every (prompt, class) row, attending
causally to the prefix keys/values of their prompt and their own earlier tokens. The result
equals the full pass up to float rounding, and gradients reach the context through the prefix
keys/values. Suffix rows are sorted by length and run in chunks padded to their own longest EOT.

The block math is open_clip's ``ResidualAttentionBlock``: ``x + ls_1(attn(ln_1(x)))`` then
``x + ls_2(mlp(ln_2(x)))``, the attention being ``nn.MultiheadAttention`` (packed in-projection,
scaled dot product per head, out-projection). Towers with other blocks (open_clip's
``CustomResidualAttentionBlock``, cross-attention, attention dropout or biased keys) are not
supported: :func:`prefix_shared_supported` says so and callers use the full pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['encode_prefix_shared', 'prefix_shared_supported']


def prefix_shared_supported(text: nn.Module) -> bool:
    """Whether the open_clip text tower's blocks are plain ``ResidualAttentionBlock``s."""
    from open_clip.transformer import ResidualAttentionBlock

    for block in text.transformer.resblocks:
        if type(block) is not ResidualAttentionBlock or hasattr(block, 'ln_1_kv'):
            return False
        attn = block.attn
        if not isinstance(attn, nn.MultiheadAttention) or not attn._qkv_same_embed_dim:
            return False
        if attn.bias_k is not None or attn.add_zero_attn or attn.dropout:
            return False
    return True


def _heads(x: Tensor, heads: int) -> Tensor:
    """[..., L, W] -> [..., H, L, W / H]."""
    *batch, length, width = x.shape
    return x.view(*batch, length, heads, width // heads).transpose(-3, -2)


def _merge(x: Tensor) -> Tensor:
    """[..., H, L, Wh] -> [..., L, H * Wh]."""
    *batch, heads, length, head_width = x.shape
    return x.transpose(-3, -2).reshape(*batch, length, heads * head_width)


def _qkv(attn: nn.MultiheadAttention, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    return _heads(q, attn.num_heads), _heads(k, attn.num_heads), _heads(v, attn.num_heads)


def _mlp_residual(block: nn.Module, x: Tensor) -> Tensor:
    return x + block.ls_2(block.mlp(block.ln_2(x)))


def _run_prefix(text: nn.Module, prefix: Tensor) -> list[tuple[Tensor, Tensor]]:
    """Prefix [P, Lp, W] (token embeddings) through the layers -> per-layer K, V [P, H, Lp, Wh]."""
    length = prefix.shape[1]
    x = prefix + text.positional_embedding[:length].to(prefix.dtype)
    mask = text.attn_mask[:length, :length].to(x.dtype)
    cache = []
    blocks = text.transformer.resblocks
    for index, block in enumerate(blocks):
        attn = block.attn
        q, k, v = _qkv(attn, block.ln_1(x))
        cache.append((k, v))
        if index == len(blocks) - 1:
            break  # the last layer's prefix output never reaches a suffix token
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + block.ls_1(F.linear(_merge(out), attn.out_proj.weight, attn.out_proj.bias))
        x = _mlp_residual(block, x)
    return cache


def _run_suffix(
    text: nn.Module, cache: list[tuple[Tensor, Tensor]], suffix: Tensor, eot: Tensor
) -> Tensor:
    """Suffix rows [S, Ls, W] (token embeddings) of every prompt -> pooled EOT states [P, S, W]."""
    num_prompts, _, prefix_len, _ = cache[0][0].shape
    num_rows, length, _ = suffix.shape
    pos = text.positional_embedding[prefix_len : prefix_len + length].to(suffix.dtype)
    x = (suffix + pos).unsqueeze(0).expand(num_prompts, -1, -1, -1)  # [P, S, Ls, W]
    mask = x.new_zeros(length, prefix_len + length)
    mask[:, prefix_len:] = text.attn_mask[:length, :length].to(x.dtype)  # causal in the suffix
    for block, (k_prefix, v_prefix) in zip(text.transformer.resblocks, cache):
        attn = block.attn
        q, k, v = _qkv(attn, block.ln_1(x))  # [P, S, H, Ls, Wh]
        shape = (num_prompts, num_rows, *k_prefix.shape[1:])
        k = torch.cat([k_prefix.unsqueeze(1).expand(shape), k], dim=-2)
        v = torch.cat([v_prefix.unsqueeze(1).expand(shape), v], dim=-2)
        out = F.scaled_dot_product_attention(
            q.flatten(0, 1), k.flatten(0, 1), v.flatten(0, 1), attn_mask=mask
        ).unflatten(0, (num_prompts, num_rows))
        x = x + block.ls_1(F.linear(_merge(out), attn.out_proj.weight, attn.out_proj.bias))
        x = _mlp_residual(block, x)
    return x[:, torch.arange(num_rows, device=x.device), eot]  # [P, S, W]


def project_pooled(text: nn.Module, pooled: Tensor) -> Tensor:
    """open_clip's text head on pooled EOT states [N, W]: ``ln_final``, then the projection."""
    pooled = text.ln_final(pooled)
    if text.text_projection is not None:
        if isinstance(text.text_projection, nn.Linear):
            pooled = text.text_projection(pooled)
        else:
            pooled = pooled @ text.text_projection
    return pooled


def encode_prefix_shared(
    text: nn.Module,
    prefix: Tensor,
    suffix_tokens: Tensor,
    suffix_eot: Tensor,
    rows_per_chunk: int,
) -> Tensor:
    """Encode prompts ``prefix + suffix`` with the prefix run once per prompt.

    Args:
        text: open_clip ``TextTransformer`` (causal, argmax pooling, plain blocks).
        prefix: [P, Lp, W] token embeddings of each prompt's prefix (start token + context).
        suffix_tokens: LongTensor [S, Ls] the token ids after the prefix of each row (class
            name, '.', EOT, then anything: tokens after the EOT are ignored).
        suffix_eot: LongTensor [S], the EOT position of each row within ``suffix_tokens``.
        rows_per_chunk: Suffix rows per chunk (each chunk runs all P prompts, so a chunk holds
            ``P * rows_per_chunk`` sequences); rows are sorted by EOT and a chunk runs only to
            its own longest EOT.

    Returns:
        Tensor: [P, S, D], not normalised: ``text`` on the token rows ``prefix + suffix``,
        pooled at their EOT (same as the full pass up to float rounding).
    """
    if prefix.shape[1] + suffix_tokens.shape[1] > text.context_length:
        raise ValueError('prefix + suffix longer than the text context')
    cache = _run_prefix(text, prefix)
    order = torch.argsort(suffix_eot.cpu(), stable=True).tolist()
    eot_list = suffix_eot.tolist()
    device = prefix.device
    suffix_tokens, suffix_eot = suffix_tokens.to(device), suffix_eot.to(device)
    outs, index = [], []
    for start in range(0, len(order), max(1, rows_per_chunk)):
        rows = order[start : start + max(1, rows_per_chunk)]
        length = max(eot_list[r] for r in rows) + 1
        rows_t = torch.tensor(rows, device=device)
        embedded = text.token_embedding(suffix_tokens[rows_t, :length]).to(prefix.dtype)
        outs.append(_run_suffix(text, cache, embedded, suffix_eot[rows_t]))
        index.extend(rows)
    pooled = torch.cat(outs, dim=1)  # [P, S, W] in sorted order
    inverse = torch.empty(len(index), dtype=torch.long)
    inverse[torch.tensor(index)] = torch.arange(len(index))
    return project_pooled(text, pooled[:, inverse.to(device)])
