"""``mmcv.ops.nms``: greedy NMS, class-wise batched NMS and NMS matching on torchvision."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from mmengine.utils import deprecated_api_warning
from torch import Tensor
from torchvision.ops import box_iou
from torchvision.ops import nms as tv_nms

__all__ = ['batched_nms', 'nms', 'nms_match']

ArrayLike = Tensor | np.ndarray


def _as_tensor(array: ArrayLike, what: str) -> Tensor:
    if isinstance(array, np.ndarray):
        return torch.from_numpy(array)
    if isinstance(array, Tensor):
        return array
    raise TypeError(f'{what} must be a Tensor or a numpy array, got {type(array).__name__}')


@deprecated_api_warning({'iou_thr': 'iou_threshold'})
def nms(
    boxes: ArrayLike,
    scores: ArrayLike,
    iou_threshold: float,
    offset: int = 0,
    score_threshold: float = 0,
    max_num: int = -1,
) -> tuple[ArrayLike, ArrayLike]:
    """Greedy non-maximum suppression with mmcv's conventions.

    A box is dropped when its IoU with a higher-scoring kept box is strictly above
    ``iou_threshold`` (as in mmcv's CPU kernel and torchvision).

    Args:
        boxes (Tensor | ndarray): (N, 4) boxes ``x1, y1, x2, y2``.
        scores (Tensor | ndarray): (N,) scores.
        iou_threshold (float): IoU above which a lower-scoring box is suppressed.
        offset (int): 0 or 1; a box is ``x2 - x1 + offset`` wide (1 is the legacy
            pixel-inclusive convention).
        score_threshold (float): Boxes with a score not above it are dropped first
            (only when it is > 0).
        max_num (int): Keep at most this many boxes (all if <= 0).

    Returns:
        tuple: ``dets`` (K, 5) boxes with their score and ``inds`` (K,) indices into the
        input, by decreasing score, of the same array type as the input.
    """
    is_numpy = isinstance(boxes, np.ndarray)
    boxes_t = _as_tensor(boxes, 'boxes')
    scores_t = _as_tensor(scores, 'scores')
    if boxes_t.dim() != 2 or boxes_t.size(1) != 4:
        raise ValueError(f'nms expects boxes of shape (N, 4), got {tuple(boxes_t.shape)}')
    if scores_t.shape != boxes_t.shape[:1]:
        raise ValueError(
            f'nms expects one score per box: boxes {tuple(boxes_t.shape)}, '
            f'scores {tuple(scores_t.shape)}'
        )
    if offset not in (0, 1):
        raise ValueError(f'nms offset must be 0 or 1, got {offset}')
    candidates = torch.arange(boxes_t.size(0), device=boxes_t.device)
    if score_threshold > 0:
        candidates = torch.nonzero(scores_t > score_threshold).flatten()
    kept_boxes = boxes_t[candidates]
    if offset:
        # Widening every box by 1 turns the inclusive convention into the plain one.
        kept_boxes = torch.cat([kept_boxes[:, :2], kept_boxes[:, 2:] + offset], dim=1)
    inds = candidates[tv_nms(kept_boxes.float(), scores_t[candidates].float(), iou_threshold)]
    if max_num > 0:
        inds = inds[:max_num]
    dets = torch.cat([boxes_t[inds], scores_t[inds].reshape(-1, 1).to(boxes_t.dtype)], dim=1)
    if is_numpy:
        return dets.cpu().numpy(), inds.cpu().numpy()
    return dets, inds


def _offset_by_class(boxes: Tensor, idxs: Tensor) -> Tensor:
    # Shift each class far enough that boxes of different classes never overlap.
    shift = idxs.to(boxes) * (boxes.max() + 1)
    return boxes + shift[:, None]


def batched_nms(
    boxes: Tensor,
    scores: Tensor,
    idxs: Tensor,
    nms_cfg: dict[str, Any] | None,
    class_agnostic: bool = False,
) -> tuple[Tensor, Tensor]:
    """NMS run independently inside each group ``idxs`` (e.g. per class), as mmcv does it.

    Args:
        boxes (Tensor): (N, 4) boxes.
        scores (Tensor): (N,) scores.
        idxs (Tensor): (N,) group of each box; boxes of different groups never suppress
            each other unless ``class_agnostic``.
        nms_cfg (dict, optional): ``iou_threshold`` and the other :func:`nms` arguments,
            plus ``type`` (only ``'nms'``), ``class_agnostic`` and ``split_thr`` (above
            this many boxes, groups are processed one at a time). ``None`` skips NMS and
            only sorts by score.
        class_agnostic (bool): Ignore ``idxs`` (overridden by ``nms_cfg``).

    Returns:
        tuple: ``dets`` (K, 5) kept boxes with their score, by decreasing score, and
        ``keep`` (K,) their indices into the input.
    """
    if nms_cfg is None:
        sorted_scores, order = scores.sort(descending=True)
        return torch.cat([boxes[order], sorted_scores[:, None]], -1), order
    if boxes.numel() == 0:
        return boxes.new_zeros(0, 5), torch.zeros(0, dtype=torch.long, device=boxes.device)
    cfg = dict(nms_cfg)
    class_agnostic = cfg.pop('class_agnostic', class_agnostic)
    op = cfg.pop('type', 'nms')
    if op not in ('nms', nms):
        raise ModuleNotFoundError(
            f"batched_nms with type={op!r} needs mmcv compiled ops; mmpat provides only type='nms'"
        )
    split_thr = cfg.pop('split_thr', 10000)
    boxes_for_nms = boxes if class_agnostic else _offset_by_class(boxes, idxs)
    if boxes_for_nms.size(0) < split_thr:
        dets, keep = nms(boxes_for_nms, scores, **cfg)
        return torch.cat([boxes[keep], dets[:, -1:]], -1), keep
    max_num = cfg.pop('max_num', -1)
    kept = torch.zeros_like(scores, dtype=torch.bool)
    for group in torch.unique(idxs):
        members = torch.nonzero(idxs == group).flatten()
        _, keep = nms(boxes_for_nms[members], scores[members], **cfg)
        kept[members[keep]] = True
    keep = torch.nonzero(kept).flatten()
    kept_scores, order = scores[keep].sort(descending=True)
    keep = keep[order]
    if max_num > 0:
        keep, kept_scores = keep[:max_num], kept_scores[:max_num]
    return torch.cat([boxes[keep], kept_scores[:, None]], -1), keep


def nms_match(dets: ArrayLike, iou_threshold: float) -> list[ArrayLike]:
    """Group boxes by greedy NMS: each group is a kept box followed by those it suppresses.

    As mmcv's kernel: boxes are visited by decreasing score, areas have no +1 offset, and a
    box joins a group when its IoU with the group's kept box is at least ``iou_threshold``.

    Args:
        dets (Tensor | ndarray): (N, 5) boxes with their score in the last column.
        iou_threshold (float): IoU from which a box is matched to a kept one.

    Returns:
        list: One index array (Tensor or ndarray, like the input) per kept box.
    """
    dets_t = _as_tensor(dets, 'dets')
    if dets_t.numel() and (dets_t.dim() != 2 or dets_t.size(1) != 5):
        raise ValueError(f'nms_match expects dets of shape (N, 5), got {tuple(dets_t.shape)}')
    groups: list[list[int]] = []
    if dets_t.numel():
        dets_t = dets_t.detach().float().cpu()
        iou = box_iou(dets_t[:, :4], dets_t[:, :4])
        suppressed = torch.zeros(dets_t.size(0), dtype=torch.bool)
        order = dets_t[:, 4].argsort(descending=True)
        for position, i in enumerate(order.tolist()):
            if suppressed[i]:
                continue
            later = order[position + 1 :]
            matched = later[(iou[i, later] >= iou_threshold) & ~suppressed[later]]
            suppressed[matched] = True
            groups.append([i, *matched.tolist()])
    if isinstance(dets, Tensor):
        return [dets.new_tensor(group, dtype=torch.long) for group in groups]
    return [np.array(group, dtype=int) for group in groups]
