"""mmcv.ops deformable convolutions (DCN, DCNv2): naive loops, torchvision, gradients, registry."""

import numpy as np
import pytest
import torch
import torchvision
from mmcv.cnn import build_conv_layer

from mmpat.compat.mmcv_ops.deform_conv import DeformConv2d, deform_conv2d
from mmpat.compat.mmcv_ops.modulated_deform_conv import (
    ModulatedDeformConv2d,
    ModulatedDeformConv2dPack,
    modulated_deform_conv2d,
)


def bilinear(image, y, x):
    """Bilinear read of a (H, W) array with zeros outside."""
    height, width = image.shape
    if y <= -1 or y >= height or x <= -1 or x >= width:
        return 0.0
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    total = 0.0
    for yy in (y0, y0 + 1):
        for xx in (x0, x0 + 1):
            if 0 <= yy < height and 0 <= xx < width:
                total += (1 - abs(y - yy)) * (1 - abs(x - xx)) * image[yy, xx]
    return total


def naive_deform_conv(x, offset, weight, mask=None, stride=1, pad=1, dil=1, groups=1, dgroups=1):
    """Loop over outputs, taps and channels: sample at tap + offset, weight, sum."""
    x, offset, weight = (t.detach().numpy() for t in (x, offset, weight))
    mask = None if mask is None else mask.detach().numpy()
    batch, channels, _, _ = x.shape
    out_channels, per_group, kh, kw = weight.shape
    out_h, out_w = offset.shape[2:]
    out = np.zeros((batch, out_channels, out_h, out_w))
    for n in range(batch):
        for oy in range(out_h):
            for ox in range(out_w):
                for c in range(channels):
                    g = c // (channels // dgroups)
                    for i in range(kh):
                        for j in range(kw):
                            tap = g * kh * kw + i * kw + j
                            y = oy * stride - pad + i * dil + offset[n, 2 * tap, oy, ox]
                            xx = ox * stride - pad + j * dil + offset[n, 2 * tap + 1, oy, ox]
                            value = bilinear(x[n, c], y, xx)
                            if mask is not None:
                                value *= mask[n, tap, oy, ox]
                            group = c // per_group
                            outs = range(
                                group * out_channels // groups, (group + 1) * out_channels // groups
                            )
                            for o in outs:
                                out[n, o, oy, ox] += weight[o, c % per_group, i, j] * value
    return torch.from_numpy(out).float()


@pytest.mark.parametrize(
    'stride,groups,dgroups',
    [(1, 1, 1), (2, 1, 2), (1, 2, 1)],
    ids=['plain', 'stride2-dg2', 'groups2'],
)
def test_deform_conv2d_matches_naive_loop_and_torchvision(stride, groups, dgroups):
    torch.manual_seed(0)
    x = torch.randn(2, 4, 5, 6)
    weight = torch.randn(4, 4 // groups, 3, 3)
    out_h, out_w = (5 - 1) // stride + 1, (6 - 1) // stride + 1
    offset = torch.randn(2, 2 * dgroups * 9, out_h, out_w) * 1.5
    got = deform_conv2d(x, offset, weight, stride, 1, 1, groups, dgroups)
    expected = naive_deform_conv(x, offset, weight, stride=stride, groups=groups, dgroups=dgroups)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    tv = torchvision.ops.deform_conv2d(x, offset, weight, stride=stride, padding=1)
    torch.testing.assert_close(got, tv)


def test_modulated_deform_conv2d_matches_naive_loop():
    torch.manual_seed(1)
    x = torch.randn(1, 2, 5, 5)
    weight = torch.randn(3, 2, 3, 3)
    bias = torch.randn(3)
    offset = torch.randn(1, 18, 5, 5)
    mask = torch.rand(1, 9, 5, 5)
    got = modulated_deform_conv2d(x, offset, mask, weight, bias, 1, 1, 1, 1, 1)
    expected = naive_deform_conv(x, offset, weight, mask=mask) + bias[None, :, None, None]
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_deform_conv_gradients_match_finite_differences():
    torch.manual_seed(2)
    x = torch.randn(1, 2, 4, 4, dtype=torch.double, requires_grad=True)
    weight = torch.randn(2, 2, 3, 3, dtype=torch.double, requires_grad=True)
    # fractional offsets keep every sample away from the kinks of bilinear interpolation
    offset = (torch.rand(1, 18, 4, 4, dtype=torch.double) * 0.8 + 0.1).requires_grad_()
    mask = torch.rand(1, 9, 4, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda *a: deform_conv2d(*a, 1, 1, 1, 1, 1), (x, offset, weight)
    )
    assert torch.autograd.gradcheck(
        lambda *a: modulated_deform_conv2d(*a, None, 1, 1, 1, 1, 1), (x, offset, mask, weight)
    )


def test_packs_start_as_plain_convolutions_and_register_as_dcn():
    torch.manual_seed(3)
    x = torch.randn(2, 4, 7, 7)
    dcn = build_conv_layer(dict(type='DCN', deform_groups=2), 4, 6, 3, padding=1, bias=False)
    assert type(dcn).__name__ == 'DeformConv2dPack' and dcn.conv_offset.out_channels == 36
    torch.testing.assert_close(dcn(x), torch.nn.functional.conv2d(x, dcn.weight, padding=1))
    dcn2 = build_conv_layer(dict(type='DCNv2'), 4, 6, 3, padding=1)
    assert isinstance(dcn2, ModulatedDeformConv2dPack) and dcn2.conv_offset.out_channels == 27
    # zero offsets and a mask of sigmoid(0) = 0.5
    plain = torch.nn.functional.conv2d(x, dcn2.weight, padding=1) * 0.5
    torch.testing.assert_close(dcn2(x), plain + dcn2.bias[None, :, None, None])


def test_dcnv2_pack_splits_its_offset_conv_as_mmcv():
    torch.manual_seed(4)
    layer = ModulatedDeformConv2dPack(2, 3, 3, padding=1)
    torch.nn.init.normal_(layer.conv_offset.weight, std=0.3)
    x = torch.randn(1, 2, 5, 5)
    raw = layer.conv_offset(x)
    offset = torch.cat([raw[:, :9], raw[:, 9:18]], 1)
    expected = naive_deform_conv(x, offset, layer.weight.detach(), mask=raw[:, 18:].sigmoid())
    expected = expected + layer.bias.detach()[None, :, None, None]
    torch.testing.assert_close(layer(x), expected, atol=1e-4, rtol=1e-4)


def test_inputs_smaller_than_the_kernel_are_padded_like_mmcv():
    # torchvision refuses a 2x2 input for a 3x3 kernel; mmcv pads it and crops the output.
    layer = DeformConv2d(2, 2, 3, padding=1)
    x = torch.randn(1, 2, 2, 2)
    out = layer(x, torch.zeros(1, 18, 2, 2))
    torch.testing.assert_close(out, torch.nn.functional.conv2d(x, layer.weight, padding=1))


def test_bad_shapes_are_named():
    layer = ModulatedDeformConv2d(4, 4, 3, padding=1)
    with pytest.raises(ValueError, match=r'offset must be \(N, 18'):
        layer(torch.randn(1, 4, 5, 5), torch.randn(1, 10, 5, 5), torch.randn(1, 9, 5, 5))
    with pytest.raises(ValueError, match='mask must be'):
        layer(torch.randn(1, 4, 5, 5), torch.randn(1, 18, 5, 5), torch.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match='input has 3 channels'):
        deform_conv2d(torch.randn(1, 3, 5, 5), torch.randn(1, 18, 5, 5), torch.randn(4, 4, 3, 3))
