"""TorchVisionImage: torchvision v2 ops on mmcv's BGR images, colour channels kept right."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmseg.registry import TRANSFORMS

from mmpat.datasets.transforms import TorchVisionImage


def _bgr_image() -> np.ndarray:
    img = np.zeros((6, 10, 3), np.uint8)
    img[:, :, 2] = 200  # red in BGR
    img[:, 5:, 0] = 50  # some blue on the right half
    return img


def test_ops_see_rgb_and_the_result_is_bgr_again():
    seen = []

    class Record(torch.nn.Module):
        def forward(self, x):
            seen.append(x.clone())
            return x.flip(-1)  # a horizontal flip

    transform = TorchVisionImage(transforms=[])
    transform.transforms.transforms.append(Record())
    img = _bgr_image()
    out = transform(dict(img=img.copy(), img_path='x.png'))
    assert seen[0].shape == (3, 6, 10) and seen[0].dtype == torch.uint8
    assert int(seen[0][0, 0, 0]) == 200 and int(seen[0][2, 0, 0]) == 0  # channel 0 is red
    np.testing.assert_array_equal(out['img'], img[:, ::-1])  # flipped, BGR again
    assert out['img_shape'] == (6, 10)


def test_paper_recipe_ops_build_and_keep_the_crop_size():
    cfg = dict(
        type='TorchVisionImage',
        transforms=[
            dict(type='RandomResizedCrop', size=16, scale=(0.08, 1.0), antialias=True),
            dict(type='RandomHorizontalFlip'),
            dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
            dict(type='RandAugment', num_ops=2, magnitude=9),
            dict(type='RandomErasing', p=1.0),
        ],
    )
    torch.manual_seed(0)
    out = TRANSFORMS.build(cfg)(
        dict(img=np.random.default_rng(0).integers(0, 255, (40, 30, 3), np.uint8))
    )
    assert out['img'].shape == (16, 16, 3) and out['img'].dtype == np.uint8


def test_bad_op_and_bad_image_are_named():
    with pytest.raises(KeyError, match="'RandomResizedCorp' is not a transform"):
        TorchVisionImage(transforms=[dict(type='RandomResizedCorp', size=8)])
    with pytest.raises(ValueError, match=r'needs an \[H, W, 3\] image, got \(4, 4\) \(gray.png\)'):
        TorchVisionImage(transforms=[])(dict(img=np.zeros((4, 4), np.uint8), img_path='gray.png'))
