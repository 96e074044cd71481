"""``mmcv.ops.deform_conv``: deformable convolution v1 (DCN) on torchvision's kernel.

The offset layout is mmcv's (and torchvision's): for deformable group ``g`` and kernel
tap ``k = i * kernel_w + j``, channel ``2 * (g * K + k)`` is the y offset and the next
channel the x offset, ``K = kernel_h * kernel_w``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.utils import deprecated_api_warning
from torch import Tensor, nn
from torch.nn.modules.utils import _pair
from torchvision.ops import deform_conv2d as tv_deform_conv2d

__all__ = ['DeformConv2d', 'DeformConv2dPack', 'deform_conv2d']

IntPair = int | tuple[int, int]


def check_deform_inputs(
    op: str, input: Tensor, offset: Tensor, weight: Tensor, groups: int, deform_groups: int
) -> None:
    """Raise a ValueError naming the shapes when they do not fit a deformable convolution.

    Args:
        op (str): The op's name for the message.
        input (Tensor): (N, C_in, H, W).
        offset (Tensor): (N, 2 * deform_groups * kh * kw, H_out, W_out).
        weight (Tensor): (C_out, C_in / groups, kh, kw).
        groups (int): Convolution groups.
        deform_groups (int): Offset groups.
    """
    if input.dim() != 4:
        raise ValueError(f'{op} expects a 4-D input (N, C, H, W), got {tuple(input.shape)}')
    taps = weight.size(2) * weight.size(3)
    if input.size(1) != weight.size(1) * groups:
        raise ValueError(
            f'{op}: input has {input.size(1)} channels but weight {tuple(weight.shape)} with '
            f'groups={groups} expects {weight.size(1) * groups}'
        )
    if offset.dim() != 4 or offset.size(1) != 2 * deform_groups * taps:
        raise ValueError(
            f'{op}: offset must be (N, {2 * deform_groups * taps}, H_out, W_out) for '
            f'deform_groups={deform_groups} and a {tuple(weight.shape[2:])} kernel, got '
            f'{tuple(offset.shape)}'
        )


def deform_conv2d(
    input: Tensor,
    offset: Tensor,
    weight: Tensor,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    deform_groups: int = 1,
    bias: bool = False,
    im2col_step: int = 32,
) -> Tensor:
    """Deformable convolution with mmcv's positional signature.

    Args:
        input (Tensor): (N, C_in, H, W).
        offset (Tensor): (N, 2 * deform_groups * kh * kw, H_out, W_out).
        weight (Tensor): (C_out, C_in / groups, kh, kw).
        stride, padding, dilation (int | tuple): As for ``nn.Conv2d``.
        groups (int): Convolution groups.
        deform_groups (int): Offset groups.
        bias (bool): Must be False (mmcv's op has no bias).
        im2col_step (int): Ignored (a CUDA batching knob of mmcv).

    Returns:
        Tensor: (N, C_out, H_out, W_out).
    """
    if bias:
        raise ValueError('deform_conv2d has no bias (bias=True is not supported, as in mmcv)')
    check_deform_inputs('deform_conv2d', input, offset, weight, groups, deform_groups)
    # mmcv follows the offset's dtype so that autocast (fp16 offsets) works.
    input = input.type_as(offset)
    return tv_deform_conv2d(
        input,
        offset,
        weight.type_as(input),
        stride=_pair(stride),
        padding=_pair(padding),
        dilation=_pair(dilation),
    )


def conv_attributes(
    layer: nn.Module,
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
    groups: int,
) -> None:
    """Give a deformable layer ``nn.Conv2d``'s attributes and an uninitialised weight.

    Code that treats these layers as convolutions (mmcv's ``ConvModule``, FLOP counters)
    reads ``kernel_size``, ``transposed``, ``output_padding`` and the others.
    """
    layer.in_channels = in_channels
    layer.out_channels = out_channels
    layer.kernel_size = _pair(kernel_size)
    layer.stride = _pair(stride)
    layer.padding = _pair(padding)
    layer.dilation = _pair(dilation)
    layer.groups = groups
    layer.transposed = False
    layer.output_padding = (0,)
    layer.weight = nn.Parameter(
        torch.empty(out_channels, in_channels // groups, *layer.kernel_size)
    )


class DeformConv2d(nn.Module):
    """Deformable convolution (Dai et al., 2017) with mmcv's parameters and checks.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple): Kernel size.
        stride, padding, dilation (int | tuple): As for ``nn.Conv2d``.
        groups (int): Convolution groups.
        deform_groups (int): Offset groups.
        bias (bool): Must be False.
        im2col_step (int): Kept for mmcv's signature; unused.
    """

    @deprecated_api_warning({'deformable_groups': 'deform_groups'}, cls_name='DeformConv2d')
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
        bias: bool = False,
        im2col_step: int = 32,
    ) -> None:
        super().__init__()
        assert not bias, f'bias={bias} is not supported in DeformConv2d.'
        assert in_channels % groups == 0, f'in_channels {in_channels} not divisible by {groups}'
        assert out_channels % groups == 0, f'out_channels {out_channels} not divisible by {groups}'
        conv_attributes(
            self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups
        )
        self.deform_groups = deform_groups
        self.im2col_step = im2col_step
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform weights, as mmcv initialises them."""
        nn.init.kaiming_uniform_(self.weight, nonlinearity='relu')

    def forward(self, x: Tensor, offset: Tensor) -> Tensor:
        """Args: x (N, C_in, H, W), offset (N, 2 * deform_groups * kh * kw, H_out, W_out).

        Returns:
            Tensor: (N, C_out, H_out, W_out).
        """
        # An input smaller than the kernel is zero-padded at the bottom/right and the
        # output cropped back, as mmcv does (its kernel refuses such inputs).
        pad_h = max(self.kernel_size[0] - x.size(2), 0)
        pad_w = max(self.kernel_size[1] - x.size(3), 0)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
            offset = F.pad(offset, (0, pad_w, 0, pad_h))
        out = self._conv(x, offset)
        if pad_h or pad_w:
            out = out[:, :, : out.size(2) - pad_h, : out.size(3) - pad_w].contiguous()
        return out

    def _conv(self, x: Tensor, offset: Tensor) -> Tensor:
        return deform_conv2d(
            x,
            offset,
            self.weight,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.deform_groups,
        )


def offset_conv(layer: nn.Module, per_tap: int) -> nn.Conv2d:
    """The zero-initialised conv that predicts ``per_tap`` values per group and kernel tap."""
    conv = nn.Conv2d(
        layer.in_channels,
        layer.deform_groups * per_tap * layer.kernel_size[0] * layer.kernel_size[1],
        kernel_size=layer.kernel_size,
        stride=layer.stride,
        padding=layer.padding,
        dilation=layer.dilation,
        bias=True,
    )
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class DeformConv2dPack(DeformConv2d):
    """A :class:`DeformConv2d` that predicts its own offsets (registered as ``'DCN'``).

    Same arguments as :class:`DeformConv2d`; ``conv_offset`` starts at zero, so the
    layer starts as a plain convolution.
    """

    # mmcv's state-dict version (2: the offset conv is saved as ``conv_offset``).
    _version = 2

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conv_offset = offset_conv(self, per_tap=2)

    def init_offset(self) -> None:
        """Zero the offset predictor (the layer then acts as a plain convolution)."""
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (N, C_in, H, W). Returns: (N, C_out, H_out, W_out)."""
        return self._conv(x, self.conv_offset(x))
