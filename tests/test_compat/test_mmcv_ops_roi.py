"""mmcv.ops RoIAlign and MaskedConv2d fallbacks against direct computations."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv.ops import MaskedConv2d, RoIAlign


def roi_bilinear(image, y, x):
    """RoIAlign's bilinear read (Detectron2 / mmcv CPU kernel rules at the borders)."""
    height, width = image.shape[-2:]
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(image.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= height - 1:
        y0 = y1 = height - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= width - 1:
        x0 = x1 = width - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return (
        (1 - ly) * (1 - lx) * image[:, y0, x0]
        + (1 - ly) * lx * image[:, y0, x1]
        + ly * (1 - lx) * image[:, y1, x0]
        + ly * lx * image[:, y1, x1]
    )


def naive_roi_align(features, rois, out_size, scale, ratio, aligned):
    features = features.numpy()
    out = np.zeros((len(rois), features.shape[1], out_size, out_size))
    shift = 0.5 if aligned else 0.0
    for r, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        sx, sy = x1 * scale - shift, y1 * scale - shift
        w, h = (x2 - x1) * scale, (y2 - y1) * scale
        if not aligned:
            w, h = max(w, 1.0), max(h, 1.0)
        bin_w, bin_h = w / out_size, h / out_size
        grid_h = ratio or math.ceil(h / out_size)
        grid_w = ratio or math.ceil(w / out_size)
        for ph in range(out_size):
            for pw in range(out_size):
                total = 0
                for iy in range(grid_h):
                    for ix in range(grid_w):
                        y = sy + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                        x = sx + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                        total = total + roi_bilinear(features[int(b)], y, x)
                out[r, :, ph, pw] = total / max(grid_h * grid_w, 1)
    return torch.from_numpy(out).float()


@pytest.mark.parametrize('aligned,ratio', [(True, 0), (False, 2)])
def test_roi_align_matches_naive_loop(aligned, ratio):
    torch.manual_seed(0)
    features = torch.randn(2, 3, 8, 9)
    rois = torch.tensor([[0, 1.0, 2.0, 10.0, 12.0], [1, 0.0, 0.0, 3.0, 2.5], [1, 5, 5, 30, 20]])
    layer = RoIAlign(3, spatial_scale=0.5, sampling_ratio=ratio, aligned=aligned)
    expected = naive_roi_align(features, rois, 3, 0.5, ratio, aligned)
    torch.testing.assert_close(layer(features, rois), expected, atol=1e-5, rtol=1e-5)


def test_roi_align_refuses_what_it_cannot_do_by_name():
    with pytest.raises(ModuleNotFoundError, match="pool_mode='max'"):
        RoIAlign(2, pool_mode='max')(torch.randn(1, 1, 4, 4), torch.zeros(1, 5))
    with pytest.raises(ValueError, match=r'rois of shape \(K, 5\)'):
        RoIAlign(2)(torch.randn(1, 1, 4, 4), torch.zeros(1, 4))


def test_masked_conv_is_the_convolution_where_the_mask_is_positive():
    torch.manual_seed(1)
    layer = MaskedConv2d(3, 4, 3, padding=1)
    x = torch.randn(1, 3, 5, 6)
    mask = (torch.rand(1, 5, 6) > 0.5).float()
    out = layer(x, mask)
    full = F.conv2d(x, layer.weight, layer.bias, padding=1)
    for h in range(5):
        for w in range(6):
            expected = full[0, :, h, w] if mask[0, h, w] > 0 else torch.zeros(4)
            torch.testing.assert_close(out[0, :, h, w], expected)
    torch.testing.assert_close(layer(x), full)
