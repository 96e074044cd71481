"""Run torchvision's image augmentations inside an mmseg pipeline (image-only training data)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


def build_torchvision_transform(cfg: dict):
    """``dict(type='RandomResizedCrop', size=224, ...)`` -> ``torchvision.transforms.v2`` op.

    Raises:
        KeyError: ``type`` is not a transform of ``torchvision.transforms.v2`` (named).
    """
    from torchvision.transforms import v2

    cfg = dict(cfg)
    name = cfg.pop('type', None)
    op = getattr(v2, str(name), None)
    if not isinstance(op, type):
        raise KeyError(
            f'TorchVisionImage: {name!r} is not a transform of torchvision.transforms.v2 '
            '(e.g. RandomResizedCrop, ColorJitter, RandAugment, RandomErasing)'
        )
    return op(**cfg)


@TRANSFORMS.register_module()
class TorchVisionImage(BaseTransform):
    """Apply ``torchvision.transforms.v2`` ops, in order, to ``results['img']``.

    For image-caption training, where nothing but the image is augmented (no label map, whose
    geometry the ops would have to follow: use mmseg's transforms for segmentation data). The
    image is mmcv's BGR uint8 [H, W, 3]; the ops see it as an RGB uint8 tensor [3, H, W] (so
    colour ops such as ``ColorJitter`` hue act on the right channels) and it is written back
    in mmcv's layout, with ``img_shape`` updated.

    Args:
        transforms (Sequence[dict]): Op configs, ``type`` a ``torchvision.transforms.v2`` class
            name and the other keys its arguments, e.g.
            ``[dict(type='RandomResizedCrop', size=224, scale=(0.08, 1.0)),
            dict(type='RandAugment', magnitude=9)]``.
    """

    def __init__(self, transforms: Sequence[dict]) -> None:
        super().__init__()
        from torchvision.transforms import v2

        ops = [build_torchvision_transform(cfg) for cfg in transforms]
        self.transforms = v2.Compose(ops or [v2.Identity()])

    def transform(self, results: dict) -> dict:
        """Augment ``results['img']`` ([H, W, 3] BGR uint8) in place of the original."""
        img = results['img']
        if not (isinstance(img, np.ndarray) and img.ndim == 3 and img.shape[2] == 3):
            shape = getattr(img, 'shape', None)
            raise ValueError(
                f'TorchVisionImage needs an [H, W, 3] image, got {shape} '
                f'({results.get("img_path", "unknown file")})'
            )
        rgb = torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1])).permute(2, 0, 1)
        out = self.transforms(rgb.contiguous())
        results['img'] = np.ascontiguousarray(out.permute(1, 2, 0).numpy()[:, :, ::-1])
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.transforms})'
