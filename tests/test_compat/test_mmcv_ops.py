"""The pure-PyTorch mmcv.ops package: installed, complete where it claims, clear where not."""

import importlib
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import MODELS

from mmpat.compat import mmcv_ops
from mmpat.compat.mmcv_ops import fallback
from mmpat.compat.mmcv_ops.focal_loss import sigmoid_focal_loss


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


def test_fallback_is_installed_as_the_mmcv_ops_package():
    ops = importlib.import_module('mmcv.ops')
    assert getattr(ops, '__mmpat_fallback__', False)
    # the submodules mmdet and mmseg import resolve, and names beat same-named submodules
    from mmcv.ops.modulated_deform_conv import ModulatedDeformConv2d
    from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttention
    from mmcv.ops.nms import batched_nms

    assert ops.nms is sys.modules['mmcv.ops.nms'].nms and callable(ops.point_sample)
    assert ops.batched_nms is batched_nms
    assert MODELS.get('DCNv2').__mro__[1] is ModulatedDeformConv2d
    assert MODELS.get('MultiScaleDeformableAttention') is MultiScaleDeformableAttention
    assert set(ops.__all__) >= {'CrissCrossAttention', 'PSAMask', 'DeformConv2dPack', 'nms'}


def test_missing_names_and_submodules_raise_module_not_found_naming_the_op():
    ops = importlib.import_module('mmcv.ops')
    with pytest.raises(ModuleNotFoundError, match=r'mmcv\.ops\.RoIAlignRotated needs'):
        from mmcv.ops import RoIAlignRotated  # noqa: F401
    with pytest.raises(ModuleNotFoundError, match=r'mmcv\.ops\.roi_align_rotated needs'):
        importlib.import_module('mmcv.ops.roi_align_rotated')
    with pytest.raises(AttributeError):
        ops.__wrapped__  # noqa: B018


def test_import_only_stand_ins_fail_when_used():
    from mmcv.ops import CARAFEPack, RoIPool
    from mmcv.ops.carafe import carafe

    for use in (lambda: RoIPool(7), lambda: CARAFEPack(4, 2), lambda: carafe(None)):
        with pytest.raises(ModuleNotFoundError, match='compiled extension'):
            use()


def test_mmdet_style_imports_resolve():
    # mmdet imports these at module level; each must import (used or not).
    from mmcv.ops import (  # noqa: F401
        CornerPool,
        DeformConv2d,
        MaskedConv2d,
        deform_conv2d,
        nms_match,
        rel_roi_point_to_rel_img_point,
        sigmoid_focal_loss,
    )
    from mmcv.ops.merge_cells import ConcatCell, GlobalPoolingCell, SumCell  # noqa: F401
    from mmcv.ops.roi_align import roi_align  # noqa: F401


@pytest.mark.parametrize('shape', [(2, 7, 2), (2, 3, 5, 2)])
def test_point_sample_matches_bilinear_reference(shape):
    from mmcv.ops import point_sample

    torch.manual_seed(0)
    image = torch.randn(2, 3, 6, 9)
    points = torch.rand(*shape) * 1.2 - 0.1  # some points fall outside the image
    out = point_sample(image, points)
    flat = points.reshape(2, -1, 2)
    for batch in range(2):
        expected = bilinear_reference(image[batch].numpy(), flat[batch].numpy())
        np.testing.assert_allclose(out[batch].reshape(3, -1).numpy(), expected, atol=1e-5)
    assert out.shape == (2, 3, *shape[1:-1])


@pytest.mark.parametrize('reduction', ['none', 'sum', 'mean'])
def test_sigmoid_focal_loss_matches_mmseg_python_version(reduction):
    from mmseg.models.losses.focal_loss import py_sigmoid_focal_loss

    torch.manual_seed(0)
    logits = torch.randn(10, 4)
    target = torch.randint(0, 5, (10,))  # 4 = "no class"
    one_hot = F.one_hot(target, 5)[:, :4]
    weight = torch.rand(10)
    got = sigmoid_focal_loss(logits, target, 2.0, 0.25, weight, reduction)
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
    sigmoid_focal_loss(logits, target, reduction='sum').backward()
    grad = logits.grad.clone()
    logits.grad = None
    one_hot = F.one_hot(target, 4)[:, :3].float()
    p = logits.sigmoid()
    pt = p * one_hot + (1 - p) * (1 - one_hot)
    at = 0.25 * one_hot + 0.75 * (1 - one_hot)
    (-(at * (1 - pt) ** 2 * torch.log(pt))).sum().backward()
    torch.testing.assert_close(grad, logits.grad)


def test_fallback_stays_out_of_the_way_with_compiled_mmcv(monkeypatch):
    monkeypatch.setattr(fallback, 'compiled_mmcv_available', lambda: True)
    for name in [n for n in sys.modules if n == 'mmcv.ops' or n.startswith('mmcv.ops.')]:
        monkeypatch.delitem(sys.modules, name)
    registered = dict(MODELS.module_dict)
    monkeypatch.setattr(sys, 'meta_path', [f for f in sys.meta_path if 'Missing' not in repr(f)])
    assert mmcv_ops.install_fallback() is False
    assert 'mmcv.ops' not in sys.modules and 'mmcv.ops.nms' not in sys.modules
    assert dict(MODELS.module_dict) == registered
    assert not any(isinstance(f, fallback._MissingSubmoduleFinder) for f in sys.meta_path)
