"""How good are a grouping model's groups, separately from how they are named?

Zero-shot segmentation by grouping (GroupViT) fails in two separable ways: the groups do not
follow the objects, or the groups are right but their text scores name them wrongly. These
per-image statistics tell which (used by ``tools/analysis/groupvit_grouping_report.py``):

* groups in use (distinct argmax groups in the image);
* best-group IoU of every ground-truth object (the IoU of the group that matches it best);
* the *oracle labelling*: every group gets the majority ground-truth class of its pixels. The
  mIoU of that map is the best any naming of these groups can reach; far above the protocol's
  mIoU means the naming fails, near the trivial baseline means the grouping fails.
"""

from __future__ import annotations

import numpy as np


def oracle_labels(groups: np.ndarray, gt: np.ndarray, *, ignore_index: int = 255) -> np.ndarray:
    """Label every group with the majority ground-truth class of its (non-ignored) pixels.

    Args:
        groups (np.ndarray): (H, W) int group index per pixel.
        gt (np.ndarray): (H, W) int ground-truth labels.
        ignore_index (int): Ignored label (never chosen; a group of only ignored pixels keeps
            ``ignore_index``).

    Returns:
        np.ndarray: (H, W) int64 label map.
    """
    if groups.shape != gt.shape:
        raise ValueError(f'groups {groups.shape} and ground truth {gt.shape} differ in shape')
    out = np.full(gt.shape, ignore_index, dtype=np.int64)
    for group in np.unique(groups):
        inside = groups == group
        labels = gt[inside]
        labels = labels[labels != ignore_index].astype(np.int64)
        if labels.size:
            out[inside] = np.bincount(labels).argmax()
    return out


def best_group_ious(
    groups: np.ndarray, gt: np.ndarray, *, background: int = 0, ignore_index: int = 255
) -> list[float]:
    """For every ground-truth class in the image (background excluded), the best IoU of a group.

    Args:
        groups (np.ndarray): (H, W) int group index per pixel.
        gt (np.ndarray): (H, W) int ground-truth labels.
        background (int): Label left out (None: keep every class).
        ignore_index (int): Ignored label (those pixels are left out).

    Returns:
        list[float]: One IoU in [0, 1] per class present.
    """
    if groups.shape != gt.shape:
        raise ValueError(f'groups {groups.shape} and ground truth {gt.shape} differ in shape')
    valid = gt != ignore_index
    ious = []
    for label in np.unique(gt[valid]):
        if label == background:
            continue
        target = (gt == label) & valid
        best = 0.0
        for group in np.unique(groups[target]):
            mask = (groups == group) & valid
            best = max(best, float((mask & target).sum() / (mask | target).sum()))
        ious.append(best)
    return ious
