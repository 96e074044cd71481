"""Open-vocabulary IoU: mIoU over all classes, over seen and unseen classes, and their harmonic
mean hIoU = 2 S U / (S + U), averaged the mmseg way or the detectron2 way (``average``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS
from prettytable import PrettyTable

from .benchmarks import AVERAGE_MODES, describe_average


def _to_float64(area: Any) -> np.ndarray:
    return (area.numpy() if torch.is_tensor(area) else np.asarray(area)).astype(np.float64)


@METRICS.register_module()
class OpenVocabIoUMetric(IoUMetric):
    """IoU per class, mIoU over all, seen and unseen classes, and hIoU.

    The per-image areas are mmseg's :meth:`IoUMetric.intersect_and_union` (pixels whose label is
    ``ignore_index`` are dropped); they are summed over the split, and the IoU of a class is
    intersection / union of the sums. Values are percent, rounded to 2 decimals.

    Which classes a mean runs over (``average``; the per-class IoU is the same in both modes):

    - ``'all'`` (mmseg's ``IoUMetric``, GroupViT, MaskCLIP(+), MVP-SEG): every class with a
      non-empty union. A class predicted somewhere but absent from the ground truth of the
      whole split has IoU 0 and counts; a class neither present nor predicted has IoU NaN and
      is left out (mmseg's nanmean).
    - ``'present'`` (detectron2's ``SemSegEvaluator``, used by CAT-Seg, SAN, FC-CLIP, SED,
      MAFT+ for A-847 / PC-459): only classes with at least one ground-truth pixel in the split;
      a class predicted but absent is left out, so it cannot pull the mean down.

    The modes differ only when some class has no ground-truth pixel in the split, which is the
    case for A-847 and PC-459 (users of the detectron2 code report PC-459 gaps of 2-5 mIoU). The
    rule holds for ``mIoU``, ``mIoU_seen`` and ``mIoU_unseen``; ``hIoU`` is computed from the
    seen / unseen means of the mode. ``aAcc`` (correct / labelled pixels) does not depend on the
    mode. ``mAcc`` is the mean accuracy over the classes with ground-truth pixels in both modes
    (accuracy of an absent class is 0 / 0; in ``'all'`` mode ``nan_to_num`` replaces those NaNs
    and they count, exactly as mmseg does). The returned keys are the same in both modes (so
    ``save_best='mIoU'`` keeps working); the log names the mode.

    Which mode each benchmark uses (the mode of its published numbers) is
    :data:`mmpat.evaluation.metrics.benchmarks.BENCHMARK_AVERAGE`, set in every dataset base
    (``configs/_base_/datasets/``) and listed in ``docs/zero_shot_datasets.md``:

    ==========================================  =========  ====================================
    benchmark                                   average    whose published numbers
    ==========================================  =========  ====================================
    A-847, PC-459, A-150, PC-59, VOC-20         present    detectron2 (CAT-Seg, SAN, SED, FC-CLIP)
    VOC-21, Context-60, COCO-Object             all        mmseg (GroupViT protocol)
    COCO-Stuff                                  all        mmseg (SAN mmseg, MaskCLIP, SCLIP)
    seen/unseen splits (VOC-20 15/5, ...)       all        mmseg (MaskCLIP+, MVP-SEG)
    scenes (generated)                          all        ours (mmseg's rule)
    ==========================================  =========  ====================================

    The split comes from the config (``seen_classes`` / ``unseen_classes``, names) or else from
    the dataset meta (``seen_classes`` / ``unseen_classes``, as set by ``ScenesDataset``). If
    only one of the two is known, the other is every remaining non-background class. With no
    split at all, every non-background class is seen and ``mIoU_unseen`` / ``hIoU`` are NaN.

    Args:
        seen_classes: Seen class names (overrides the dataset meta).
        unseen_classes: Unseen class names (overrides the dataset meta).
        background_classes: Names treated as background (never unseen). Default
            ``('background',)``.
        count_background: Whether background classes count in ``mIoU`` (all classes) and in
            ``mIoU_seen``; they are never in ``mIoU_unseen``. Our choice: True (the background
            is a class the model must predict). Their per-class IoU is printed either way.
        ignore_index: Label ignored in the ground truth. Default 255.
        average: ``'all'`` (mmseg's rule, the default) or ``'present'`` (detectron2's), see
            above.
        dataset_meta: Class names (``classes``) etc. for standalone use (the evaluator
            replaces it with the dataset's meta).
        **kwargs: Other :class:`IoUMetric` arguments (``nan_to_num``, ``output_dir``,
            ``format_only``, ``prefix``, ...); ``iou_metrics`` is fixed to ``['mIoU']``.

    Returns (``compute_metrics``):
        dict: ``aAcc``, ``mIoU``, ``mAcc``, ``mIoU_seen``, ``mIoU_unseen``, ``hIoU``.
    """

    def __init__(
        self,
        *,
        seen_classes: Sequence[str] | None = None,
        unseen_classes: Sequence[str] | None = None,
        background_classes: Sequence[str] = ('background',),
        count_background: bool = True,
        ignore_index: int = 255,
        average: str = 'all',
        dataset_meta: dict | None = None,
        **kwargs,
    ) -> None:
        if average not in AVERAGE_MODES:
            raise ValueError(
                f"OpenVocabIoUMetric: average must be one of {AVERAGE_MODES} (mmseg's mean over "
                "every class with a non-empty union, or detectron2's mean over the classes with "
                f'ground-truth pixels), got {average!r}'
            )
        kwargs.pop('iou_metrics', None)
        super().__init__(ignore_index=ignore_index, iou_metrics=['mIoU'], **kwargs)
        for name, value in (('seen_classes', seen_classes), ('unseen_classes', unseen_classes)):
            if isinstance(value, str):
                raise TypeError(f'{name} must be a list of class names, got the string {value!r}')
        self.seen_classes = None if seen_classes is None else list(seen_classes)
        self.unseen_classes = None if unseen_classes is None else list(unseen_classes)
        self.background_classes = list(background_classes)
        self.count_background = count_background
        self.average = average
        if dataset_meta is not None:
            self.dataset_meta = dataset_meta

    @property
    def dataset_meta(self) -> dict | None:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        if dataset_meta is not None:
            self.split()  # fail early on unknown class names

    def split(self) -> dict[str, np.ndarray]:
        """Boolean masks over ``dataset_meta['classes']`` of background, seen and unseen classes.

        Returns:
            dict: ``background``, ``seen``, ``unseen`` boolean arrays of shape (num_classes,).

        Raises:
            ValueError: A configured or meta class name is not in ``dataset_meta['classes']``,
                or a class is both seen and unseen.
        """
        if not self.dataset_meta or 'classes' not in self.dataset_meta:
            raise ValueError('OpenVocabIoUMetric needs dataset_meta with "classes"')
        classes = list(self.dataset_meta['classes'])
        seen = self.seen_classes
        unseen = self.unseen_classes
        source = 'config'
        if seen is None and unseen is None:
            seen = self.dataset_meta.get('seen_classes')
            unseen = self.dataset_meta.get('unseen_classes')
            source = 'dataset meta'
        names = {}
        for what, value in (('seen_classes', seen), ('unseen_classes', unseen)):
            if value is None:
                continue
            unknown = [n for n in value if n not in classes]
            if unknown:
                raise ValueError(
                    f'OpenVocabIoUMetric: unknown class name(s) {unknown} in {what} '
                    f'({source}); known classes: {classes}'
                )
            names[what] = set(value)
        background = np.array([c in self.background_classes for c in classes])
        if 'unseen_classes' in names:
            unseen_mask = np.array([c in names['unseen_classes'] for c in classes])
        else:
            unseen_mask = np.zeros(len(classes), dtype=bool)
        if 'seen_classes' in names:
            seen_mask = np.array([c in names['seen_classes'] for c in classes])
        else:
            seen_mask = ~unseen_mask & ~background
        both = [c for c, s, u in zip(classes, seen_mask, unseen_mask) if s and u]
        if both:
            raise ValueError(f'OpenVocabIoUMetric: class(es) {both} are both seen and unseen')
        bad = [c for c, b, u in zip(classes, background, unseen_mask) if b and u]
        if bad:
            raise ValueError(f'OpenVocabIoUMetric: background class(es) {bad} cannot be unseen')
        seen_mask = seen_mask & ~background
        return dict(background=background, seen=seen_mask, unseen=unseen_mask)

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Sum the per-image areas and compute the metrics (see the class docstring).

        Args:
            results: Per-image ``(intersect, union, pred_area, label_area)`` tensors.

        Returns:
            dict[str, float]: ``aAcc``, ``mIoU``, ``mAcc``, ``mIoU_seen``, ``mIoU_unseen``,
            ``hIoU`` in percent.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        if self.format_only:
            return OrderedDict()
        # Sum in float64: float32 pixel counts stop being exact above 2**24 per class.
        intersect, union, pred_area, label_area = (
            sum(_to_float64(a) for a in part) for part in zip(*results)
        )
        parts = self.split()
        with np.errstate(divide='ignore', invalid='ignore'):
            iou = intersect / union
            acc = intersect / label_area
            a_acc = intersect.sum() / label_area.sum()
        if self.nan_to_num is not None:
            iou = np.nan_to_num(iou, nan=self.nan_to_num)
            acc = np.nan_to_num(acc, nan=self.nan_to_num)
        counted = parts['seen'] | parts['unseen']
        seen = parts['seen'].copy()
        unseen = parts['unseen'].copy()
        if self.count_background:
            counted |= parts['background']
            seen |= parts['background']
        present = label_area > 0
        if self.average == 'present':
            # detectron2's rule: a class without ground-truth pixels in the split is left out
            # even where it was predicted (its IoU would be 0 in 'all' mode).
            counted, seen, unseen = counted & present, seen & present, unseen & present

        def mean(values: np.ndarray, mask: np.ndarray) -> float:
            chosen = values[mask]
            chosen = chosen[~np.isnan(chosen)]
            return float(chosen.mean()) if chosen.size else float('nan')

        s = mean(iou, seen)
        u = mean(iou, unseen)
        h = 2 * s * u / (s + u) if s + u > 0 else (0.0 if s == s and u == u else float('nan'))
        metrics = dict(
            aAcc=a_acc,
            mIoU=mean(iou, counted),
            mAcc=mean(acc, counted),
            mIoU_seen=s,
            mIoU_unseen=u,
            hIoU=h,
        )
        metrics = {k: round(float(v) * 100, 2) for k, v in metrics.items()}

        table = PrettyTable()
        classes = list(self.dataset_meta['classes'])
        kind = np.where(
            parts['background'], 'background', np.where(parts['unseen'], 'unseen', 'seen')
        )
        table.add_column('Class', classes)
        table.add_column('Split', kind)
        table.add_column('IoU', np.round(iou * 100, 2).tolist())
        table.add_column('Acc', np.round(acc * 100, 2).tolist())
        table.add_column('In mean', np.where(counted & ~np.isnan(iou), 'yes', 'no').tolist())
        print_log('per class results:', logger)
        print_log('\n' + table.get_string(), logger=logger)
        summary = PrettyTable()
        for key, value in metrics.items():
            summary.add_column(key, [value])
        print_log('\n' + summary.get_string(), logger=logger)
        in_mean = int((counted & ~np.isnan(iou)).sum())
        print_log(
            f"average='{self.average}' ({describe_average(self.average)}): mIoU over {in_mean} "
            f'of {len(classes)} classes ({int(present.sum())} with ground-truth pixels)',
            logger=logger,
        )
        return metrics

    def evaluate_maps(self, pred_maps: Sequence[Any], gt_maps: Sequence[Any]) -> dict[str, float]:
        """Score label maps directly (standalone use; needs ``dataset_meta``).

        Args:
            pred_maps: Predicted label maps, each (H, W) int array or tensor.
            gt_maps: Ground-truth label maps, same shapes (``ignore_index`` allowed).

        Returns:
            dict[str, float]: as :meth:`compute_metrics`.
        """
        if len(pred_maps) != len(gt_maps):
            raise ValueError(f'{len(pred_maps)} predictions for {len(gt_maps)} ground truths')
        num_classes = len(self.split()['seen'])
        results = []
        for pred, gt in zip(pred_maps, gt_maps):
            pred, gt = torch.as_tensor(np.asarray(pred)), torch.as_tensor(np.asarray(gt))
            if pred.shape != gt.shape:
                raise ValueError(f'prediction shape {tuple(pred.shape)} != label {tuple(gt.shape)}')
            results.append(self.intersect_and_union(pred, gt, num_classes, self.ignore_index))
        return self.compute_metrics(results)
