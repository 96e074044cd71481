"""Trivial segmentation baselines: every pixel one class (the most frequent one by default).

A learned zero-shot segmentor is only worth its numbers if it beats these; on the generated
scenes the background covers about 90% of the ``val`` pixels, so "everything is background"
already scores mIoU ~2.9 (1 of 31 classes with IoU ~0.9). Scores use
:class:`~mmpat.evaluation.metrics.OpenVocabIoUMetric`, the metric of the scenes configs.

Example::

    from mmpat.evaluation.trivial_baselines import constant_prediction_metrics
    metrics = constant_prediction_metrics('data/scenes', 'val')
"""

from __future__ import annotations

import json
import os.path as osp
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .metrics.open_vocab_iou import OpenVocabIoUMetric


def _label_maps(data_root: str, split: str) -> list[np.ndarray]:
    ann_dir = Path(data_root) / 'ann_dir' / split
    files = sorted(ann_dir.glob('*.png'))
    if not files:
        raise FileNotFoundError(
            f'no label maps in {ann_dir}; generate the scenes first '
            '(python tools/dataset_converters/gen_scenes.py --out ' + str(data_root) + ')'
        )
    return [np.asarray(Image.open(f)) for f in files]


def constant_prediction_metrics(
    data_root: str, split: str = 'val', label: int | None = None, *, ignore_index: int = 255
) -> dict:
    """Metrics of predicting one class everywhere on a scenes split.

    Args:
        data_root (str): Scenes folder (with ``meta.json`` and ``ann_dir/<split>``).
        split (str): Labelled split.
        label (int, optional): The class predicted everywhere; default the most frequent class
            of the split's ground truth (ignored pixels left out).
        ignore_index (int): Ignored label.

    Returns:
        dict: ``label``, ``class`` (its name) and the metric's keys (``mIoU``, ``mIoU_seen``,
        ``mIoU_unseen``, ``hIoU``, ``aAcc``, ``mAcc``).
    """
    meta_path = osp.join(data_root, 'meta.json')
    if not osp.isfile(meta_path):
        raise FileNotFoundError(f'{meta_path} not found: {data_root} is not a scenes folder')
    with open(meta_path) as f:
        meta = json.load(f)
    dataset_meta = dict(
        classes=list(meta['classes']), seen_classes=meta['seen'], unseen_classes=meta['unseen']
    )
    maps = _label_maps(data_root, split)
    return constant_map_metrics(maps, dataset_meta, label, ignore_index=ignore_index)


def constant_map_metrics(
    gt_maps: Sequence[np.ndarray],
    dataset_meta: dict,
    label: int | None = None,
    *,
    ignore_index: int = 255,
) -> dict:
    """Metrics of predicting one class everywhere on the given label maps.

    Args:
        gt_maps (Sequence[np.ndarray]): (H, W) ground-truth label maps.
        dataset_meta (dict): ``classes`` and optionally ``seen_classes`` / ``unseen_classes``.
        label (int, optional): The class predicted everywhere (default: the most frequent).
        ignore_index (int): Ignored label.

    Returns:
        dict: as :func:`constant_prediction_metrics`.
    """
    classes = list(dataset_meta['classes'])
    if label is None:
        counts = np.zeros(len(classes), dtype=np.int64)
        for gt in map(np.asarray, gt_maps):
            valid = gt[gt != ignore_index].astype(np.int64)
            counts += np.bincount(valid, minlength=len(classes))[: len(classes)]
        label = int(counts.argmax())
    if not 0 <= label < len(classes):
        raise ValueError(f'label {label} is not a class index (0..{len(classes) - 1})')
    metric = OpenVocabIoUMetric(ignore_index=ignore_index, dataset_meta=dict(dataset_meta))
    preds = [np.full(np.shape(gt), label, dtype=np.int64) for gt in gt_maps]
    metrics = metric.evaluate_maps(preds, gt_maps)
    return dict(label=label, **{'class': classes[label]}, **metrics)
