"""Cases for the scenes benchmark modules: ScenesDataset, ImageCaptionDataset,
PackImageCaption and OpenVocabIoUMetric (tiny scenes generated into a temp dir). Pipelines are
given as transform objects, so the cases build with or without a default registry scope."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations, PackSegInputs

from mmpat.datasets.scenes import generate_scenes
from mmpat.datasets.transforms import PackImageCaption

from . import ModuleCase

_ROOT = Path(tempfile.mkdtemp(prefix='mmpat_scenes_cases_')) / 'scenes'
atexit.register(shutil.rmtree, _ROOT.parent, ignore_errors=True)
generate_scenes(str(_ROOT), size=32, num_pretrain=2, num_train=2, num_val=2, progress=False)

_CLASSES = ('background', 'red circle', 'red square', 'blue circle')


def _check_torchvision_image(output: dict) -> None:
    # the crop's size, in mmcv's [H, W, 3] uint8 layout
    assert output['img'].shape == (8, 8, 3) and output['img'].dtype == np.uint8, output['img'].shape
    assert output['img_shape'] == (8, 8)


def _check_seg_item(output: dict) -> None:
    assert output['inputs'].shape == (3, 32, 32)
    assert output['data_samples'].gt_sem_seg.data.shape == (1, 32, 32)


def _check_caption_item(output: dict) -> None:
    assert output['inputs'].shape == (3, 32, 32) and output['inputs'].dtype == torch.uint8
    sample = output['data_samples']
    assert sample.caption in sample.captions


def _check_packed_caption(output: dict) -> None:
    # mode='first': the first caption, all of them kept; the image as a (C, H, W) tensor
    sample = output['data_samples']
    assert sample.caption == 'a red circle', f'caption {sample.caption!r}, not the first one'
    assert list(sample.captions) == ['a red circle', 'a circle'], f'captions {sample.captions}'
    assert tuple(output['inputs'].shape) == (3, 4, 5), f'inputs {tuple(output["inputs"].shape)}'


def _check_metric(output: dict) -> None:
    # Perfect predictions: every present class has IoU 100.
    assert output['mIoU'] == output['mIoU_seen'] == output['mIoU_unseen'] == 100.0
    assert output['hIoU'] == 100.0


def _label_maps():
    gt = np.array([[0, 1, 2], [3, 255, 1]])
    return (([gt.copy()], [gt]), {})


CASES = [
    ModuleCase(
        cfg=dict(
            type='ScenesDataset',
            data_root=str(_ROOT),
            split='val',
            pipeline=[LoadImageFromFile(), LoadAnnotations(), PackSegInputs()],
        ),
        make_inputs=lambda: ((1,), {}),
        method='__getitem__',
        registry='DATASETS',
        backward=False,
        check=_check_seg_item,
    ),
    ModuleCase(
        cfg=dict(
            type='ImageCaptionDataset',
            data_root=str(_ROOT),
            ann_file='captions/pretrain.jsonl',
            pipeline=[LoadImageFromFile(), PackImageCaption()],
        ),
        make_inputs=lambda: ((0,), {}),
        method='__getitem__',
        registry='DATASETS',
        backward=False,
        check=_check_caption_item,
    ),
    ModuleCase(
        cfg=dict(type='PackImageCaption', mode='first'),
        make_inputs=lambda: (
            (dict(img=np.zeros((4, 5, 3), np.uint8), captions=['a red circle', 'a circle']),),
            {},
        ),
        registry='TRANSFORMS',
        backward=False,
        check=_check_packed_caption,
    ),
    ModuleCase(
        cfg=dict(type='TorchVisionImage', transforms=[dict(type='RandomResizedCrop', size=8)]),
        make_inputs=lambda: ((dict(img=np.zeros((20, 30, 3), np.uint8)),), {}),
        registry='TRANSFORMS',
        backward=False,
        check=_check_torchvision_image,
    ),
    ModuleCase(
        cfg=dict(
            type='OpenVocabIoUMetric',
            unseen_classes=['blue circle'],
            dataset_meta=dict(classes=_CLASSES),
        ),
        make_inputs=_label_maps,
        method='evaluate_maps',
        registry='METRICS',
        backward=False,
        check=_check_metric,
    ),
]
