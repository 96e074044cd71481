"""The ``_base_`` zero-shot dataset configs: each builds its test dataset on fabricated data,
resizes the image to the benchmark's short side, keeps the ground truth exact, agrees on one
ignore index, and scores with OpenVocabIoUMetric (16-bit ignore handled)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS, METRICS
from module_cases.zeroshot_datasets import expected_gt, fabricate

from mmpat.utils.ignore_index import check_ignore_index

ROOT = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'datasets'
# config file -> (fabrication key, short side, ignore index, has a seen/unseen split)
CONFIGS = {
    'ade20k_150': ('ade150', 512, 255, False),
    'ade20k_847': ('ade847', 512, 65535, False),
    'pascal_context_59': ('pascal_context59', 512, 255, True),
    'pascal_context_459': ('pascal_context459', 512, 65535, False),
    'voc20': ('voc20', 512, 255, True),
    'voc21': ('voc21', 448, 255, False),
    'context60': ('context60', 448, 255, True),
    'coco_stuff171': ('coco_stuff171', 512, 255, True),
    'coco_object': ('coco_object', 448, 255, False),
}


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_base_dataset_config(tmp_path, name):
    key, short, ignore, has_split = CONFIGS[name]
    cfg = Config.fromfile(str(ROOT / f'{name}.py'))
    assert cfg.test_dataloader.dataset.data_root.startswith('data/')
    assert check_ignore_index(cfg) == {'val': ignore, 'test': ignore}

    labels = fabricate(tmp_path, key, num=1, size=(12, 16))
    dataset_cfg = cfg.test_dataloader.dataset.to_dict()
    dataset_cfg['data_root'] = str(tmp_path)
    with DefaultScope.overwrite_default_scope('mmseg'):  # the config's default scope
        dataset = DATASETS.build(dataset_cfg)
    item = dataset[0]
    assert tuple(item['inputs'].shape[1:]) == (short, round(16 * short / 12))
    gt = item['data_samples'].gt_sem_seg.data[0].numpy()
    assert np.array_equal(gt, expected_gt(key, labels['img_000']))

    metric = METRICS.build(cfg.test_evaluator.to_dict())
    metric.dataset_meta = dataset.metainfo
    scores = metric.evaluate_maps([np.where(gt == ignore, 0, gt)], [gt])
    assert scores['mIoU'] == 100.0  # a perfect prediction, ignore pixels left out
    assert bool(dataset.metainfo.get('unseen_classes')) == has_split
    assert np.isnan(scores['mIoU_unseen']) or scores['mIoU_unseen'] == 100.0


def test_wrong_metric_ignore_breaks_16bit_scores(tmp_path):
    """Why the ignore index must be 65535 end to end: with 255, class 255 pixels are dropped
    and the 65535 pixels are scored."""
    cfg = Config.fromfile(str(ROOT / 'ade20k_847.py'))
    fabricate(tmp_path, 'ade847', num=1)
    dataset_cfg = cfg.test_dataloader.dataset.to_dict()
    dataset_cfg['data_root'] = str(tmp_path)
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(dataset_cfg)
    gt = dataset[0]['data_samples'].gt_sem_seg.data[0].numpy()
    pred = np.where(gt == 65535, 0, gt)
    wrong = METRICS.build(dict(type='OpenVocabIoUMetric', ignore_index=255))
    wrong.dataset_meta = dataset.metainfo
    assert wrong.evaluate_maps([pred], [gt])['mIoU'] < 100.0
