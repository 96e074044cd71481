"""GroupViT building blocks: ViT blocks, token-mixing MLP, grouping block, assignment.

Module and parameter names follow the released GroupViT checkpoints (``attn.qkv``,
``downsample.mlp_inter.fc1``, ...) so that converting a released ``.pth`` is a prefix rename.
Attention uses ``F.scaled_dot_product_attention`` (fused kernels).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.drop import DropPath
from torch import Tensor, nn


class Mlp(nn.Module):
    """Two linear layers with GELU in between (``fc1`` -> GELU -> ``fc2``).

    Args:
        in_dim (int): Input channels.
        hidden_dim (int): Hidden channels.
        out_dim (int, optional): Output channels (default: ``in_dim``).
    """

    def __init__(self, *, in_dim: int, hidden_dim: int, out_dim: int | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, out_dim or in_dim)

    def forward(self, x: Tensor) -> Tensor:
        """[..., in_dim] -> [..., out_dim]."""
        return self.fc2(F.gelu(self.fc1(x)))


class TokenMixMlp(Mlp):
    """MLP over the token axis: [B, S_in, C] -> [B, S_out, C] (``S_in -> hidden -> S_out``)."""

    def forward(self, x: Tensor) -> Tensor:
        """[B, S_in, C] -> [B, S_out, C]."""
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def _split_heads(x: Tensor, num_heads: int) -> Tensor:
    batch, length, channels = x.shape
    return x.view(batch, length, num_heads, channels // num_heads).transpose(1, 2)


def _merge_heads(x: Tensor) -> Tensor:
    batch, heads, length, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * head_dim)


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused ``qkv`` projection.

    Args:
        dim (int): Channels.
        num_heads (int): Heads (``dim`` must be divisible by it).
    """

    def __init__(self, *, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embed dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        """[B, N, C] -> [B, N, C]."""
        q, k, v = (_split_heads(t, self.num_heads) for t in self.qkv(x).chunk(3, dim=-1))
        return self.proj(_merge_heads(F.scaled_dot_product_attention(q, k, v)))


class CrossAttention(nn.Module):
    """Multi-head attention of queries over a separate key/value sequence.

    Args:
        dim (int): Channels.
        num_heads (int): Heads.
    """

    def __init__(self, *, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embed dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, query: Tensor, key: Tensor) -> Tensor:
        """Queries [B, S, C] attend over ``key`` [B, N, C] -> [B, S, C]."""
        q = _split_heads(self.q_proj(query), self.num_heads)
        k = _split_heads(self.k_proj(key), self.num_heads)
        v = _split_heads(self.v_proj(key), self.num_heads)
        return self.proj(_merge_heads(F.scaled_dot_product_attention(q, k, v)))


class TransformerBlock(nn.Module):
    """Pre-norm ViT block: ``x + MHSA(LN(x))`` then ``x + MLP(LN(x))``.

    Args:
        dim (int): Channels.
        num_heads (int): Heads.
        mlp_ratio (float): MLP hidden channels / ``dim``.
        drop_path (float): Stochastic depth rate of both residual branches.
    """

    def __init__(
        self, *, dim: int, num_heads: int, mlp_ratio: float = 4.0, drop_path: float = 0.0
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim=dim, num_heads=num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(in_dim=dim, hidden_dim=int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """[B, N, C] -> [B, N, C]."""
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class CrossAttnBlock(nn.Module):
    """Post-norm cross-attention block: ``q + MHA(q, x)``, ``q + MLP(LN(q))``, then LN.

    Args:
        dim (int): Channels.
        num_heads (int): Heads.
        mlp_ratio (float): MLP hidden channels / ``dim``.
    """

    def __init__(self, *, dim: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.attn = CrossAttention(dim=dim, num_heads=num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(in_dim=dim, hidden_dim=int(dim * mlp_ratio))
        self.norm_post = nn.LayerNorm(dim)

    def forward(self, query: Tensor, key: Tensor) -> Tensor:
        """[B, S, C] queries, [B, N, C] keys -> [B, S, C]."""
        x = query + self.attn(query, key)
        x = x + self.mlp(self.norm2(x))
        return self.norm_post(x)


def hard_one_hot(soft: Tensor, dim: int) -> Tensor:
    """Straight-through one-hot of the argmax along ``dim`` (forward: one-hot, grad: soft)."""
    index = soft.argmax(dim=dim, keepdim=True)
    hard = torch.zeros_like(soft).scatter_(dim, index, 1.0)
    return hard - soft.detach() + soft


def gumbel_hard(logits: Tensor, dim: int, tau: float = 1.0) -> Tensor:
    """Hard (straight-through) Gumbel-softmax sample along ``dim``.

    Args:
        logits (Tensor): Unnormalised log-probabilities.
        dim (int): Category axis.
        tau (float): Temperature.

    Returns:
        Tensor: One-hot in the forward pass, gradient of ``softmax((logits + g) / tau)``.
    """
    # -log(Exponential(1)) is Gumbel(0, 1); exponential_ never returns 0 so the log is finite.
    gumbels = -torch.empty_like(logits).exponential_().log()
    return hard_one_hot(((logits + gumbels) / tau).softmax(dim=dim), dim=dim)


class AssignAttention(nn.Module):
    """Single-head assignment of tokens to groups (softmax over the GROUP axis).

    Training: hard Gumbel-softmax (straight-through); eval: hard argmax (straight-through).
    The soft assignment ``softmax(raw over groups)`` is returned for segmentation.

    Args:
        dim (int): Channels.
        gumbel (bool): Gumbel noise in training (True, as in GroupViT, Xu et al., CVPR 2022).
        hard (bool): Hard (one-hot) assignment (True, as in the paper). If False the soft
            assignment is used in the forward pass.
        gumbel_tau (float): Gumbel temperature (1, the value of the released GroupViT
            models; docs/methods/groupvit.md).
        assign_eps (float): Added to the per-group token count before normalising (1, as
            in the released models).
    """

    def __init__(
        self,
        *,
        dim: int,
        gumbel: bool = True,
        hard: bool = True,
        gumbel_tau: float = 1.0,
        assign_eps: float = 1.0,
    ) -> None:
        super().__init__()
        self.scale = dim**-0.5
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.gumbel = gumbel
        self.hard = hard
        self.gumbel_tau = gumbel_tau
        self.assign_eps = assign_eps

    def forward(self, query: Tensor, key: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Assign the tokens ``key`` [B, N, C] to the groups ``query`` [B, S, C].

        Returns:
            tuple: ``out`` [B, S, C] (pooled group features), ``soft`` [B, S, N] (softmax over
            groups), ``assign`` [B, S, N] (the assignment used in the forward pass).
        """
        raw = self.q_proj(query) @ self.k_proj(key).transpose(-2, -1) * self.scale
        soft = raw.softmax(dim=-2)
        if self.hard and self.gumbel and self.training:
            assign = gumbel_hard(raw, dim=-2, tau=self.gumbel_tau)
        elif self.hard:
            assign = hard_one_hot(soft, dim=-2)
        else:
            assign = soft
        attn = assign / (assign.sum(dim=-1, keepdim=True) + self.assign_eps)
        out = self.proj(attn @ self.v_proj(key))
        return out, soft, assign


class GroupingBlock(nn.Module):
    """Merge N tokens into ``num_output_group`` segments with ``num_group_token`` group tokens.

    Args:
        dim (int): Channels.
        num_heads (int): Heads of the pre-assignment cross-attention.
        num_group_token (int): Input group tokens S_in.
        num_output_group (int): Output segments S_out.
        assign_mlp_ratio (tuple[float, float]): Hidden sizes (x ``dim``) of the token-mixing
            MLP (S_in -> r0*dim -> S_out) and of the channel MLP (dim -> r1*dim -> dim).
        gumbel, hard, gumbel_tau, assign_eps: See :class:`AssignAttention`.
    """

    def __init__(
        self,
        *,
        dim: int,
        num_heads: int,
        num_group_token: int,
        num_output_group: int,
        assign_mlp_ratio: tuple[float, float] = (0.5, 4.0),
        gumbel: bool = True,
        hard: bool = True,
        gumbel_tau: float = 1.0,
        assign_eps: float = 1.0,
    ) -> None:
        super().__init__()
        tokens_dim, channels_dim = (int(r * dim) for r in assign_mlp_ratio)
        self.norm_tokens = nn.LayerNorm(dim)
        self.mlp_inter = TokenMixMlp(
            in_dim=num_group_token, hidden_dim=tokens_dim, out_dim=num_output_group
        )
        self.norm_post_tokens = nn.LayerNorm(dim)
        self.norm_x = nn.LayerNorm(dim)
        self.pre_assign_attn = CrossAttnBlock(dim=dim, num_heads=num_heads)
        self.assign = AssignAttention(
            dim=dim, gumbel=gumbel, hard=hard, gumbel_tau=gumbel_tau, assign_eps=assign_eps
        )
        self.norm_new_x = nn.LayerNorm(dim)
        self.mlp_channels = Mlp(in_dim=dim, hidden_dim=channels_dim)

    def forward(self, x: Tensor, group_tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Group tokens ``x`` [B, N, C] with ``group_tokens`` [B, S_in, C].

        Returns:
            tuple: new tokens [B, S_out, C], soft assignment [B, S_out, N], forward-pass
            assignment [B, S_out, N].
        """
        group_tokens = self.norm_tokens(group_tokens)
        x = self.norm_x(x)
        q = self.norm_post_tokens(self.mlp_inter(group_tokens))
        q = self.pre_assign_attn(q, x)
        out, soft, assign = self.assign(q, x)
        new = out + q
        new = new + self.mlp_channels(self.norm_new_x(new))
        return new, soft, assign
