"""End to end on fabricated A-847 data: a tiny 847-class mmseg model trains two iterations with
16-bit labels (ids above 255, ignore 65535 padded by the preprocessor) and is evaluated with the
``_base_`` A-847 config's test pipeline and OpenVocabIoUMetric; the ignore-index check passes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import Runner
from module_cases.zeroshot_datasets import fabricate

from mmpat.utils.ignore_index import check_ignore_index

BASE = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'datasets' / 'ade20k_847.py'


def tiny_config(data_root: Path, work_dir: Path, seg_pad_val: int = 65535) -> Config:
    cfg = Config.fromfile(str(BASE))
    cfg.test_dataloader.dataset.data_root = str(data_root)
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    cfg.test_dataloader.dataset.pipeline[1].scale = (64, 32)  # short side 32 for speed
    cfg.val_dataloader = cfg.test_dataloader
    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotationsUint16'),
        dict(type='RandomCrop', crop_size=(16, 16), cat_max_ratio=0.75, ignore_index=65535),
        dict(type='PackSegInputs'),
    ]
    cfg.merge_from_dict(
        dict(
            default_scope='mmseg',
            work_dir=str(work_dir),
            model=dict(
                type='EncoderDecoder',
                data_preprocessor=dict(
                    type='SegDataPreProcessor',
                    mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375],
                    size=(24, 24),
                    seg_pad_val=seg_pad_val,
                ),
                backbone=dict(
                    type='VisionTransformer',
                    img_size=(24, 24),
                    patch_size=8,
                    embed_dims=16,
                    num_layers=1,
                    num_heads=2,
                    mlp_ratio=2,
                    out_indices=(0,),
                ),
                decode_head=dict(
                    type='FCNHead',
                    in_channels=16,
                    channels=8,
                    num_convs=1,
                    concat_input=False,
                    num_classes=847,
                    ignore_index=65535,
                    align_corners=False,
                    loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True),
                ),
                test_cfg=dict(mode='whole'),
            ),
            train_dataloader=dict(
                batch_size=2,
                num_workers=0,
                sampler=dict(type='InfiniteSampler', shuffle=True),
                dataset=dict(
                    type='ADE20K847Dataset',
                    data_root=str(data_root),
                    data_prefix=dict(
                        img_path='images/validation', seg_map_path='annotations/validation'
                    ),
                    pipeline=train_pipeline,
                ),
            ),
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2),
            val_cfg=dict(type='ValLoop'),
            test_cfg=dict(type='TestLoop'),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
            default_hooks=dict(checkpoint=None, logger=dict(type='LoggerHook', interval=1)),
            log_level='WARNING',
        )
    )
    return cfg


def test_a847_train_and_evaluate(tmp_path):
    fabricate(tmp_path / 'data', 'ade847', num=2, size=(20, 24))
    cfg = tiny_config(tmp_path / 'data', tmp_path / 'work')
    assert check_ignore_index(cfg) == {'train': 65535, 'val': 65535, 'test': 65535}
    runner = Runner.from_cfg(cfg)
    runner.train()

    # The training loss on 16-bit labels equals a plain cross-entropy ignoring 65535.
    model = runner.model.eval()
    batch = model.data_preprocessor(next(iter(runner.train_dataloader)), True)
    gt = torch.stack([s.gt_sem_seg.data[0] for s in batch['data_samples']])
    assert (gt > 255).any() and (gt == 65535).any()  # padded with the 16-bit ignore
    with torch.no_grad():
        loss = model.loss(batch['inputs'], batch['data_samples'])['decode.loss_ce']
        logits = model.decode_head.forward(model.extract_feat(batch['inputs']))
        logits = F.interpolate(logits, size=gt.shape[1:], mode='bilinear', align_corners=False)
        reference = F.cross_entropy(logits, gt, ignore_index=65535)
    assert torch.allclose(loss, reference, atol=1e-5)

    metrics = runner.test()
    assert np.isfinite(metrics['mIoU']) and 0 <= metrics['mIoU'] <= 100
    assert runner.test_evaluator.metrics[0].dataset_meta['classes'][846].startswith('adding')


def test_a847_wrong_pad_value_is_caught(tmp_path):
    cfg = tiny_config(tmp_path / 'data', tmp_path / 'work', seg_pad_val=255)
    with pytest.raises(ValueError, match='model.data_preprocessor.seg_pad_val = 255'):
        check_ignore_index(cfg)
