"""Constant-prediction baselines on a tiny generated scenes folder, against a numpy count."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from mmpat.datasets.scenes.generator import generate_scenes
from mmpat.evaluation.trivial_baselines import constant_prediction_metrics


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp('scenes')
    generate_scenes(str(root), size=40, num_pretrain=0, num_train=0, num_val=10, progress=False)
    return root


def _gt(root):
    return [np.asarray(Image.open(p)) for p in sorted((root / 'ann_dir/val').glob('*.png'))]


def test_most_frequent_class_is_background_and_scores_as_counted(scenes):
    gts = _gt(scenes)
    meta = json.loads((scenes / 'meta.json').read_text())
    counts = np.bincount(np.concatenate([g.ravel() for g in gts]), minlength=31)
    out = constant_prediction_metrics(str(scenes), 'val')
    assert out['label'] == int(counts.argmax()) == 0 and out['class'] == 'background'
    # predicting background everywhere: IoU(bg) = bg pixels / all pixels, every other class
    # present in the ground truth has IoU 0; absent classes are left out of the mean.
    present = counts > 0
    background_iou = counts[0] / counts.sum()
    assert out['mIoU'] == pytest.approx(100 * background_iou / present.sum(), abs=0.01)
    assert out['aAcc'] == pytest.approx(100 * background_iou, abs=0.01)
    unseen = [meta['classes'].index(c) for c in meta['unseen']]
    if present[unseen].any():
        assert out['mIoU_unseen'] == 0.0


def test_another_label_and_bad_inputs(scenes, tmp_path):
    gts = _gt(scenes)
    counts = np.bincount(np.concatenate([g.ravel() for g in gts]), minlength=31)
    label = int(np.flatnonzero(counts[1:])[0]) + 1
    out = constant_prediction_metrics(str(scenes), 'val', label=label)
    assert out['label'] == label and out['aAcc'] == pytest.approx(
        100 * counts[label] / counts.sum(), abs=0.01
    )
    with pytest.raises(ValueError, match='label 99 is not a class index'):
        constant_prediction_metrics(str(scenes), 'val', label=99)
    with pytest.raises(FileNotFoundError, match='not a scenes folder'):
        constant_prediction_metrics(str(tmp_path), 'val')
    with pytest.raises(FileNotFoundError, match='no label maps'):
        constant_prediction_metrics(str(scenes), 'train')
