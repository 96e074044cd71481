"""``mmcv.ops.modulated_deform_conv``: modulated deformable convolution (DCNv2) on torchvision.

Offsets use the layout of :mod:`.deform_conv`; the mask has one channel per deformable
group and kernel tap, ``g * K + k``.
"""

from __future__ import annotations

import math

import torch
from mmengine.utils import deprecated_api_warning
from torch import Tensor, nn
from torch.nn.modules.utils import _pair
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from .deform_conv import IntPair, check_deform_inputs, conv_attributes, offset_conv

__all__ = ['ModulatedDeformConv2d', 'ModulatedDeformConv2dPack', 'modulated_deform_conv2d']


def modulated_deform_conv2d(
    input: Tensor,
    offset: Tensor,
    mask: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    deform_groups: int = 1,
) -> Tensor:
    """Modulated deformable convolution with mmcv's positional signature.

    Args:
        input (Tensor): (N, C_in, H, W).
        offset (Tensor): (N, 2 * deform_groups * kh * kw, H_out, W_out).
        mask (Tensor): (N, deform_groups * kh * kw, H_out, W_out) modulation per tap.
        weight (Tensor): (C_out, C_in / groups, kh, kw).
        bias (Tensor, optional): (C_out,).
        stride, padding, dilation (int | tuple): As for ``nn.Conv2d``.
        groups (int): Convolution groups.
        deform_groups (int): Offset groups.

    Returns:
        Tensor: (N, C_out, H_out, W_out).
    """
    op = 'modulated_deform_conv2d'
    check_deform_inputs(op, input, offset, weight, groups, deform_groups)
    if mask.shape[1:2] != (offset.size(1) // 2,) or mask.shape[2:] != offset.shape[2:]:
        raise ValueError(
            f'{op}: mask must be (N, {offset.size(1) // 2}, H_out, W_out) like the offset '
            f'{tuple(offset.shape)}, got {tuple(mask.shape)}'
        )
    # mmcv follows the offset's dtype so that autocast (fp16 offsets) works.
    input = input.type_as(offset)
    return tv_deform_conv2d(
        input,
        offset,
        weight.type_as(input),
        bias=None if bias is None else bias.type_as(input),
        stride=_pair(stride),
        padding=_pair(padding),
        dilation=_pair(dilation),
        mask=mask.type_as(input),
    )


class ModulatedDeformConv2d(nn.Module):
    """Modulated deformable convolution (Zhu et al., 2019) with mmcv's parameters.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple): Kernel size.
        stride, padding, dilation (int | tuple): As for ``nn.Conv2d``.
        groups (int): Convolution groups.
        deform_groups (int): Offset groups.
        bias (bool): Learn a bias.
    """

    @deprecated_api_warning(
        {'deformable_groups': 'deform_groups'}, cls_name='ModulatedDeformConv2d'
    )
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        deform_groups: int = 1,
        bias: bool | str = True,
    ) -> None:
        super().__init__()
        conv_attributes(
            self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups
        )
        self.deform_groups = deform_groups
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.init_weights()

    def init_weights(self) -> None:
        """Uniform weights in +-1/sqrt(fan_in) and a zero bias, as mmcv initialises them."""
        bound = 1.0 / math.sqrt(self.in_channels * math.prod(self.kernel_size))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor) -> Tensor:
        """Args: x (N, C_in, H, W), offset and mask as :func:`modulated_deform_conv2d`.

        Returns:
            Tensor: (N, C_out, H_out, W_out).
        """
        return modulated_deform_conv2d(
            x,
            offset,
            mask,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.deform_groups,
        )


class ModulatedDeformConv2dPack(ModulatedDeformConv2d):
    """A :class:`ModulatedDeformConv2d` predicting its offsets and mask (``'DCNv2'``).

    ``conv_offset`` outputs ``[offset_y-part, offset_x-part, mask]`` thirds as mmcv
    does: the first two thirds, concatenated, are the offset, the last third goes
    through a sigmoid. It starts at zero (plain convolution with a mask of 0.5).
    """

    # mmcv's state-dict version (2: the offset conv is saved as ``conv_offset``).
    _version = 2

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conv_offset = offset_conv(self, per_tap=3)

    def init_weights(self) -> None:
        """Initialise the convolution and zero the offset predictor."""
        super().init_weights()
        if hasattr(self, 'conv_offset'):
            nn.init.zeros_(self.conv_offset.weight)
            nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        """Args: x (N, C_in, H, W). Returns: (N, C_out, H_out, W_out)."""
        first, second, mask = torch.chunk(self.conv_offset(x), 3, dim=1)
        return super().forward(x, torch.cat((first, second), dim=1), mask.sigmoid())
