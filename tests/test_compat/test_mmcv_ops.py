"""The pure-PyTorch mmcv.ops fallback: installed, correct, and out of the way for other names."""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmpat.compat import mmcv_ops


def bilinear_reference(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear sampling with zero padding, align_corners=False, one loop per point."""
    channels, height, width = image.shape
    out = np.zeros((channels, len(points)))
    for index, (x, y) in enumerate(points):
        px, py = x * width - 0.5, y * height - 0.5
        x0, y0 = int(np.floor(px)), int(np.floor(py))
        for dy in (0, 1):
            for dx in (0, 1):
                xi, yi = x0 + dx, y0 + dy
                weight = (1 - abs(px - xi)) * (1 - abs(py - yi))
                if 0 <= xi < width and 0 <= yi < height:
                    out[:, index] += weight * image[:, yi, xi]
    return out


def test_fallback_is_installed_as_mmcv_ops():
    ops = importlib.import_module('mmcv.ops')
    assert getattr(ops, '__mmpat_fallback__', False)
    assert ops.point_sample is mmcv_ops.point_sample
    from mmseg.models.utils import point_sample  # noqa: F401  (imports mmcv.ops at module level)


def test_other_names_raise_module_not_found_and_dunders_attribute_error():
    ops = importlib.import_module('mmcv.ops')
    with pytest.raises(ModuleNotFoundError, match='compiled extension'):
        from mmcv.ops import PSAMask  # noqa: F401
    with pytest.raises(AttributeError):
        ops.__wrapped__  # noqa: B018
    assert not hasattr(ops, '__path__')


def test_mmseg_guarded_heads_and_all_other_heads_build():
    from mmseg.models import decode_heads
    from mmseg.registry import MODELS

    # Heads that need compiled ops are skipped by mmseg's own guards, the rest import.
    assert 'SideAdapterCLIPHead' in MODELS.module_dict
    assert hasattr(decode_heads, 'FCNHead')
    head = MODELS.build(
        dict(type='ASPPHead', in_channels=8, channels=4, num_classes=3, dilations=(1, 2))
    )
    assert head(torch.randn(1, 8, 8, 8).unsqueeze(0)[0:1].squeeze(0).unsqueeze(0)).shape[1] == 3


@pytest.mark.parametrize('shape', [(2, 7, 2), (2, 3, 5, 2)])
def test_point_sample_matches_bilinear_reference(shape):
    torch.manual_seed(0)
    image = torch.randn(2, 3, 6, 9)
    points = torch.rand(*shape) * 1.2 - 0.1  # some points fall outside the image
    out = mmcv_ops.point_sample(image, points)
    flat = points.reshape(2, -1, 2)
    for batch in range(2):
        expected = bilinear_reference(image[batch].numpy(), flat[batch].numpy())
        got = out[batch].reshape(3, -1).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert out.shape == (2, 3, *shape[1:-1])


def test_point_sample_align_corners_matches_grid_sample():
    image = torch.randn(1, 2, 5, 5)
    points = torch.rand(1, 4, 2)
    expected = F.grid_sample(image, 2 * points.unsqueeze(2) - 1, align_corners=True).squeeze(3)
    torch.testing.assert_close(mmcv_ops.point_sample(image, points, align_corners=True), expected)


@pytest.mark.parametrize('reduction', ['none', 'sum', 'mean'])
def test_sigmoid_focal_loss_matches_mmseg_python_version(reduction):
    from mmseg.models.losses.focal_loss import py_sigmoid_focal_loss

    torch.manual_seed(0)
    logits = torch.randn(10, 4)
    target = torch.randint(0, 5, (10,))  # 4 = "no class"
    one_hot = F.one_hot(target, 5)[:, :4]
    weight = torch.rand(10)
    got = mmcv_ops.sigmoid_focal_loss(logits, target, 2.0, 0.25, weight, reduction)
    expected = py_sigmoid_focal_loss(
        logits, one_hot, weight=weight, gamma=2.0, alpha=0.25, reduction='none'
    )
    if reduction == 'sum':
        expected = expected.sum()
    elif reduction == 'mean':
        expected = expected.sum() / logits.size(0)
    torch.testing.assert_close(got, expected)


def test_sigmoid_focal_loss_gradient_matches_autograd_reference():
    logits = torch.randn(6, 3, requires_grad=True)
    target = torch.tensor([0, 1, 2, 3, 1, 0])
    mmcv_ops.sigmoid_focal_loss(logits, target, reduction='sum').backward()
    grad = logits.grad.clone()
    logits.grad = None
    one_hot = F.one_hot(target, 4)[:, :3].float()
    p = logits.sigmoid()
    pt = p * one_hot + (1 - p) * (1 - one_hot)
    at = 0.25 * one_hot + 0.75 * (1 - one_hot)
    (-(at * (1 - pt) ** 2 * torch.log(pt))).sum().backward()
    torch.testing.assert_close(grad, logits.grad)


def test_fallback_stays_out_of_the_way_with_compiled_mmcv(monkeypatch):
    import sys

    monkeypatch.setattr(mmcv_ops, 'compiled_mmcv_available', lambda: True)
    monkeypatch.delitem(sys.modules, 'mmcv.ops')
    assert mmcv_ops.install_fallback() is False
    assert 'mmcv.ops' not in sys.modules
