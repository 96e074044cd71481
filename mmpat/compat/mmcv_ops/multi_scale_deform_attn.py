"""``mmcv.ops.multi_scale_deform_attn``: multi-scale deformable attention (Deformable DETR).

mmcv runs a CUDA kernel on GPU and this same computation (bilinear ``grid_sample`` per
level) elsewhere; here it is used on every device.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule, constant_init, xavier_init
from mmengine.utils import deprecated_api_warning
from torch import Tensor, nn

__all__ = ['MultiScaleDeformableAttention', 'multi_scale_deformable_attn_pytorch']


def multi_scale_deformable_attn_pytorch(
    value: Tensor,
    value_spatial_shapes: Tensor,
    sampling_locations: Tensor,
    attention_weights: Tensor,
) -> Tensor:
    """Weighted sum of bilinear samples taken at per-level sampling locations.

    Args:
        value (Tensor): (bs, num_keys, num_heads, head_dims), the levels' maps flattened
            and concatenated in order.
        value_spatial_shapes (Tensor): (num_levels, 2) ``(h, w)`` of each level.
        sampling_locations (Tensor): (bs, num_queries, num_heads, num_levels,
            num_points, 2) normalised ``(x, y)`` in [0, 1] (outside samples read zeros).
        attention_weights (Tensor): (bs, num_queries, num_heads, num_levels, num_points).

    Returns:
        Tensor: (bs, num_queries, num_heads * head_dims).
    """
    bs, num_keys, num_heads, head_dims = value.shape
    _, num_queries, _, num_levels, num_points, _ = sampling_locations.shape
    shapes = [(int(h), int(w)) for h, w in value_spatial_shapes.tolist()]
    if sum(h * w for h, w in shapes) != num_keys:
        raise ValueError(
            f'multi-scale deformable attention: value has {num_keys} keys but the spatial '
            f'shapes {shapes} add up to {sum(h * w for h, w in shapes)}'
        )
    grids = 2 * sampling_locations - 1  # grid_sample's [-1, 1] convention
    out = value.new_zeros(bs * num_heads, head_dims, num_queries)
    levels = value.split([h * w for h, w in shapes], dim=1)
    for level, ((h, w), level_value) in enumerate(zip(shapes, levels)):
        # (bs, h*w, heads, dims) -> (bs*heads, dims, h, w)
        level_value = level_value.permute(0, 2, 3, 1).reshape(bs * num_heads, head_dims, h, w)
        # (bs, queries, heads, points, 2) -> (bs*heads, queries, points, 2)
        grid = grids[:, :, :, level].transpose(1, 2).reshape(bs * num_heads, num_queries, -1, 2)
        sampled = F.grid_sample(
            level_value, grid, mode='bilinear', padding_mode='zeros', align_corners=False
        )
        weight = attention_weights[:, :, :, level].transpose(1, 2)
        out = out + (sampled * weight.reshape(bs * num_heads, 1, num_queries, -1)).sum(-1)
    return out.view(bs, num_heads * head_dims, num_queries).transpose(1, 2).contiguous()


class MultiScaleDeformableAttention(BaseModule):
    """Multi-scale deformable attention of Deformable DETR (Zhu et al., 2021).

    Same parameters, initialisation and call contract as mmcv's module, so its
    checkpoints and configs (mmdet's Mask2Former pixel decoder) work unchanged.

    Args:
        embed_dims (int): Embedding size.
        num_heads (int): Attention heads.
        num_levels (int): Feature levels.
        num_points (int): Sampling points per query, head and level.
        im2col_step (int): Kept for mmcv's signature; unused.
        dropout (float): Dropout on the output before the residual.
        batch_first (bool): Inputs are (bs, n, dims) instead of (n, bs, dims).
        norm_cfg (dict, optional): Kept for mmcv's signature; unused, as in mmcv.
        init_cfg (dict, optional): mmengine initialisation config.
        value_proj_ratio (float): Width of the value projection relative to embed_dims.
    """

    def __init__(
        self,
        embed_dims: int = 256,
        num_heads: int = 8,
        num_levels: int = 4,
        num_points: int = 4,
        im2col_step: int = 64,
        dropout: float = 0.1,
        batch_first: bool = False,
        norm_cfg: dict | None = None,
        init_cfg: dict | None = None,
        value_proj_ratio: float = 1.0,
    ) -> None:
        super().__init__(init_cfg)
        if embed_dims % num_heads != 0:
            raise ValueError(
                f'embed_dims must be divisible by num_heads, got {embed_dims} and {num_heads}'
            )
        head_dims = embed_dims // num_heads
        if head_dims & (head_dims - 1):
            warnings.warn(
                f'MultiScaleDeformableAttention: {head_dims} dims per head is not a power of '
                "2, which mmcv's CUDA kernel handles less efficiently",
                stacklevel=2,
            )
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.num_levels = num_levels
        self.num_points = num_points
        self.im2col_step = im2col_step
        self.batch_first = batch_first
        self.norm_cfg = norm_cfg
        self.dropout = nn.Dropout(dropout)
        samples = num_heads * num_levels * num_points
        self.sampling_offsets = nn.Linear(embed_dims, samples * 2)
        self.attention_weights = nn.Linear(embed_dims, samples)
        value_dims = int(embed_dims * value_proj_ratio)
        self.value_proj = nn.Linear(embed_dims, value_dims)
        self.output_proj = nn.Linear(value_dims, embed_dims)
        self.init_weights()

    def init_weights(self) -> None:
        """mmcv's initialisation: offsets start on rays at equal angles, one per head,
        point ``i`` at distance ``i + 1``; uniform attention; Xavier projections."""
        constant_init(self.sampling_offsets, 0.0)
        angles = torch.arange(self.num_heads, dtype=torch.float32) * (
            2.0 * math.pi / self.num_heads
        )
        rays = torch.stack([angles.cos(), angles.sin()], -1)
        rays = rays / rays.abs().max(-1, keepdim=True)[0]
        steps = torch.arange(1, self.num_points + 1, dtype=torch.float32)
        grid = rays[:, None, None, :] * steps[None, None, :, None]
        grid = grid.expand(self.num_heads, self.num_levels, self.num_points, 2)
        device = self.sampling_offsets.bias.device
        self.sampling_offsets.bias.data = grid.reshape(-1).to(device)
        constant_init(self.attention_weights, val=0.0, bias=0.0)
        xavier_init(self.value_proj, distribution='uniform', bias=0.0)
        xavier_init(self.output_proj, distribution='uniform', bias=0.0)
        self._is_init = True

    @deprecated_api_warning({'residual': 'identity'}, cls_name='MultiScaleDeformableAttention')
    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        identity: Tensor | None = None,
        query_pos: Tensor | None = None,
        key_padding_mask: Tensor | None = None,
        reference_points: Tensor | None = None,
        spatial_shapes: Tensor | None = None,
        level_start_index: Tensor | None = None,
        **kwargs,
    ) -> Tensor:
        """Attend from each query to sampled points around its reference point.

        Args:
            query (Tensor): (num_query, bs, embed_dims), or (bs, num_query, embed_dims)
                with ``batch_first``.
            key (Tensor, optional): Unused (keys are the sampled values), as in mmcv.
            value (Tensor, optional): (num_key, bs, embed_dims) (or batch first); the
                query if None.
            identity (Tensor, optional): Residual added to the output; the query if None.
            query_pos (Tensor, optional): Added to the query before projections.
            key_padding_mask (Tensor, optional): (bs, num_key), True where padded.
            reference_points (Tensor): (bs, num_query, num_levels, 2) points in [0, 1],
                or (..., 4) boxes ``(cx, cy, w, h)``.
            spatial_shapes (Tensor): (num_levels, 2) ``(h, w)`` per level.
            level_start_index (Tensor, optional): Unused (derived from the shapes).
            **kwargs: Ignored, as in mmcv.

        Returns:
            Tensor: Same layout as ``query``.
        """
        value = query if value is None else value
        identity = query if identity is None else identity
        if query_pos is not None:
            query = query + query_pos
        if not self.batch_first:
            query, value = query.permute(1, 0, 2), value.permute(1, 0, 2)
        bs, num_query, _ = query.shape
        num_value = value.size(1)
        if reference_points is None or spatial_shapes is None:
            raise ValueError(
                'MultiScaleDeformableAttention needs reference_points and spatial_shapes'
            )
        value = self.value_proj(value)
        if key_padding_mask is not None:
            value = value.masked_fill(key_padding_mask[..., None], 0.0)
        value = value.view(bs, num_value, self.num_heads, -1)
        shape = (bs, num_query, self.num_heads, self.num_levels, self.num_points)
        offsets = self.sampling_offsets(query).view(*shape, 2)
        weights = self.attention_weights(query).view(bs, num_query, self.num_heads, -1)
        weights = weights.softmax(-1).view(*shape)
        reference = reference_points[:, :, None, :, None]
        if reference_points.size(-1) == 2:
            # Offsets are in pixels of each level: normalise by (w, h).
            normaliser = spatial_shapes.flip(-1).to(offsets)
            locations = reference + offsets / normaliser[None, None, None, :, None, :]
        elif reference_points.size(-1) == 4:
            locations = reference[..., :2] + offsets / self.num_points * reference[..., 2:] * 0.5
        else:
            raise ValueError(
                'reference_points must end in 2 (points) or 4 (boxes), got shape '
                f'{tuple(reference_points.shape)}'
            )
        output = multi_scale_deformable_attn_pytorch(value, spatial_shapes, locations, weights)
        output = self.output_proj(output)
        if not self.batch_first:
            output = output.permute(1, 0, 2)
        return self.dropout(output) + identity
