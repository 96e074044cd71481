"""Pure-PyTorch stand-in for ``mmcv.ops`` when mmcv's compiled extension is missing.

mmseg imports a few ``mmcv.ops`` names at module level, and ``mmcv/ops/__init__.py`` of
``mmcv-lite`` fails without ``mmcv._ext``. Installing this small module as ``mmcv.ops``
(only when the compiled extension is absent) makes ``import mmseg`` work and provides
exact pure-PyTorch versions of the ops mmseg really needs. Every other name raises
``ModuleNotFoundError``, which mmseg already catches for its optional heads.
"""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

_MODULE_NAME = 'mmcv.ops'


def point_sample(input: Tensor, points: Tensor, align_corners: bool = False, **kwargs) -> Tensor:
    """Sample ``input`` at normalised ``points`` with bilinear interpolation.

    Args:
        input (Tensor): Feature map of shape (N, C, H, W).
        points (Tensor): Coordinates in [0, 1] x [0, 1], shape (N, P, 2) or (N, Hp, Wp, 2).
        align_corners (bool): Passed to :func:`torch.nn.functional.grid_sample`.
        **kwargs: Further ``grid_sample`` arguments (``mode``, ``padding_mode``).

    Returns:
        Tensor: (N, C, P) or (N, C, Hp, Wp).
    """
    flat = points.dim() == 3
    grid = points.unsqueeze(2) if flat else points
    out = F.grid_sample(input, 2.0 * grid - 1.0, align_corners=align_corners, **kwargs)
    return out.squeeze(3) if flat else out


def sigmoid_focal_loss(
    input: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    alpha: float = 0.25,
    weight: Tensor | None = None,
    reduction: str = 'mean',
) -> Tensor:
    """Sigmoid focal loss with class-index targets, as mmcv's compiled op computes it.

    Args:
        input (Tensor): Logits of shape (N, C).
        target (Tensor): Class indices of shape (N,); ``C`` (or any id outside [0, C)) means
            "no positive class" for that row.
        gamma (float): Focusing parameter.
        alpha (float): Weight of the positive term.
        weight (Tensor, optional): Per-sample weight of shape (N,).
        reduction (str): ``'none'`` (N, C), ``'mean'`` (sum / N) or ``'sum'``.

    Returns:
        Tensor: The loss.
    """
    num_classes = input.size(1)
    classes = torch.arange(num_classes, device=input.device)
    positive = (target.long().unsqueeze(1) == classes.unsqueeze(0)).to(input.dtype)
    prob = input.sigmoid()
    log_p = F.logsigmoid(input)
    log_not_p = F.logsigmoid(-input)
    loss = -alpha * (1 - prob).pow(gamma) * log_p * positive
    loss = loss - (1 - alpha) * prob.pow(gamma) * log_not_p * (1 - positive)
    if weight is not None:
        loss = loss * weight.reshape(-1, 1)
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if reduction == 'mean':
        return loss.sum() / input.size(0)
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


_PROVIDED = {'point_sample': point_sample, 'sigmoid_focal_loss': sigmoid_focal_loss}


def _missing(name: str):
    if name.startswith('__') and name.endswith('__'):
        # inspect / hasattr / copy probe dunders: answer as for any module.
        raise AttributeError(name)
    raise ModuleNotFoundError(
        f"mmcv.ops.{name} needs mmcv's compiled extension, which is not installed "
        '(mmpat runs on mmcv-lite and provides only pure-PyTorch point_sample and '
        'sigmoid_focal_loss). Install a full mmcv build to use it.',
        name=_MODULE_NAME,
    )


def compiled_mmcv_available() -> bool:
    """Whether a compiled ``mmcv._ext`` can be imported."""
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def install_fallback() -> bool:
    """Install the fallback as ``mmcv.ops`` if needed.

    Returns:
        bool: True if the fallback is (now) in place, False if compiled mmcv is used.
    """
    current = sys.modules.get(_MODULE_NAME)
    if current is not None:
        return bool(getattr(current, '__mmpat_fallback__', False))
    if compiled_mmcv_available():
        return False
    import mmcv

    module = types.ModuleType(_MODULE_NAME, __doc__)
    module.__dict__.update(_PROVIDED)
    module.__all__ = list(_PROVIDED)
    module.__mmpat_fallback__ = True
    module.__getattr__ = _missing
    sys.modules[_MODULE_NAME] = module
    mmcv.ops = module
    # mmcv.cnn warns on every import that deformable attention is missing; with mmcv-lite
    # that is expected, and the error above still names it if a config really needs it.
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    return True
