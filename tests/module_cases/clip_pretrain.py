"""Cases for the tiny-CLIP pretraining parts (contrastive model, export hook)."""

import logging
import os.path as osp
import tempfile
from types import SimpleNamespace

import torch
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from . import ModuleCase

_WORK_DIR = tempfile.mkdtemp(prefix='mmpat_export_clip_')


def _samples(captions):
    out = []
    for caption in captions:
        sample = SegDataSample()
        sample.set_metainfo(dict(caption=caption))
        out.append(sample)
    return out


def _loss_inputs():
    return (torch.randn(2, 3, 32, 32), _samples(['a red circle', 'a blue star'])), dict(mode='loss')


def _check_loss(output) -> None:
    assert set(output) == {'loss_itc', 'logit_scale'} and output['loss_itc'].dim() == 0


def _runner():
    model = MODELS.build(dict(type='CLIPContrastive', preset='ViT-test'))
    return SimpleNamespace(model=model, work_dir=_WORK_DIR, logger=logging.getLogger('case'))


def _check_export(_) -> None:
    assert osp.isfile(osp.join(_WORK_DIR, 'clip_tiny.pth'))
    assert osp.isfile(osp.join(_WORK_DIR, 'clip_tiny.json'))


CASES = [
    ModuleCase(
        cfg=dict(type='CLIPContrastive', preset='ViT-test'),
        make_inputs=_loss_inputs,
        check=_check_loss,
    ),
    ModuleCase(
        cfg=dict(type='ExportCLIPHook'),
        registry='HOOKS',
        method='after_train',
        make_inputs=lambda: ((_runner(),), {}),
        backward=False,
        check=_check_export,
    ),
]
