"""``mmcv.ops.masked_conv``: a convolution evaluated only where a mask is positive."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

__all__ = ['MaskedConv2d', 'masked_conv2d']


def masked_conv2d(
    features: Tensor,
    mask: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    padding: int | tuple[int, int] = 0,
    stride: int | tuple[int, int] = 1,
) -> Tensor:
    """Convolution output where ``mask > 0`` and zero elsewhere (bias included only there).

    Args:
        features (Tensor): (N, C_in, H, W).
        mask (Tensor): (N, H_out, W_out) or (N, 1, H_out, W_out).
        weight (Tensor): (C_out, C_in, kh, kw).
        bias (Tensor, optional): (C_out,).
        padding (int | tuple): Zero padding.
        stride (int | tuple): Must be 1, as in mmcv.

    Returns:
        Tensor: (N, C_out, H_out, W_out).
    """
    if _pair(stride) != (1, 1):
        raise ValueError(f'masked_conv2d supports stride 1 only (as mmcv), got {stride}')
    out = F.conv2d(features, weight, bias, padding=_pair(padding))
    keep = mask.reshape(mask.size(0), 1, *mask.shape[-2:]) > 0
    if keep.shape[-2:] != out.shape[-2:]:
        raise ValueError(
            f'masked_conv2d: mask {tuple(mask.shape)} does not match the output size '
            f'{tuple(out.shape[-2:])}'
        )
    return out * keep.to(out.dtype)


class MaskedConv2d(nn.Conv2d):
    """``nn.Conv2d`` that takes an optional mask of the output positions to compute."""

    def forward(self, input: Tensor, mask: Tensor | None = None) -> Tensor:
        """Args: input (N, C_in, H, W), mask (N, H_out, W_out) or None (plain conv)."""
        if mask is None:
            return super().forward(input)
        return masked_conv2d(input, mask, self.weight, self.bias, self.padding, self.stride)
