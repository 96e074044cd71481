"""mmcv.ops.nms fallback: greedy NMS, batched NMS and nms_match against naive loops."""

import numpy as np
import pytest
import torch
import torchvision

from mmpat.compat.mmcv_ops.nms import batched_nms, nms, nms_match


def iou(a, b, offset=0):
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + offset)
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + offset)
    inter = width * height
    area = lambda box: (box[2] - box[0] + offset) * (box[3] - box[1] + offset)
    return inter / (area(a) + area(b) - inter)


def naive_nms(boxes, scores, threshold, offset=0):
    """mmcv's CPU kernel as a loop: visit by score, drop later boxes with IoU > threshold."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep, removed = [], set()
    for position, i in enumerate(order):
        if i in removed:
            continue
        keep.append(i)
        for j in order[position + 1 :]:
            if j not in removed and iou(boxes[i], boxes[j], offset) > threshold:
                removed.add(j)
    return keep


def random_boxes(count, seed):
    generator = torch.Generator().manual_seed(seed)
    corner = torch.rand(count, 2, generator=generator) * 20
    size = torch.rand(count, 2, generator=generator) * 10 + 1
    # distinct scores: the order of ties is unspecified in every implementation
    scores = torch.randperm(count, generator=generator).float() / count
    return torch.cat([corner, corner + size], 1), scores


@pytest.mark.parametrize('offset', [0, 1])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_nms_matches_naive_loop(offset, seed):
    boxes, scores = random_boxes(40, seed)
    dets, inds = nms(boxes, scores, 0.3, offset=offset)
    assert inds.tolist() == naive_nms(boxes.tolist(), scores.tolist(), 0.3, offset)
    torch.testing.assert_close(dets, torch.cat([boxes[inds], scores[inds, None]], 1))


def test_nms_matches_torchvision_and_keeps_numpy_type():
    boxes, scores = random_boxes(30, 3)
    _, inds = nms(boxes, scores, 0.5)
    assert inds.tolist() == torchvision.ops.nms(boxes, scores, 0.5).tolist()
    dets_np, inds_np = nms(boxes.numpy(), scores.numpy(), 0.5)
    assert isinstance(dets_np, np.ndarray) and inds_np.tolist() == inds.tolist()


def test_nms_score_threshold_and_max_num_index_the_input():
    boxes, scores = random_boxes(30, 4)
    _, inds = nms(boxes, scores, 0.5, score_threshold=0.4, max_num=3)
    valid = [i for i in range(30) if scores[i] > 0.4]
    expected = [valid[i] for i in naive_nms(boxes[valid].tolist(), scores[valid].tolist(), 0.5)]
    assert inds.tolist() == expected[:3]


def test_nms_rejects_bad_shapes_by_name():
    with pytest.raises(ValueError, match=r'boxes of shape \(N, 4\)'):
        nms(torch.rand(3, 5), torch.rand(3), 0.5)
    with pytest.raises(ValueError, match='one score per box'):
        nms(torch.rand(3, 4), torch.rand(2), 0.5)


@pytest.mark.parametrize('split_thr', [10000, 5])
def test_batched_nms_is_nms_within_each_class(split_thr):
    boxes, scores = random_boxes(40, 5)
    classes = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(5))
    dets, keep = batched_nms(boxes, scores, classes, dict(iou_threshold=0.3, split_thr=split_thr))
    expected = []
    for label in range(3):
        members = [i for i in range(40) if classes[i] == label]
        kept = naive_nms(boxes[members].tolist(), scores[members].tolist(), 0.3)
        expected += [members[i] for i in kept]
    expected.sort(key=lambda i: -scores[i])
    assert keep.tolist() == expected
    torch.testing.assert_close(dets, torch.cat([boxes[keep], scores[keep, None]], 1))


def test_batched_nms_class_agnostic_and_no_cfg():
    boxes, scores = random_boxes(20, 6)
    classes = torch.arange(20) % 2
    _, keep = batched_nms(boxes, scores, classes, dict(iou_threshold=0.3, class_agnostic=True))
    assert keep.tolist() == naive_nms(boxes.tolist(), scores.tolist(), 0.3)
    dets, order = batched_nms(boxes, scores, classes, None)
    assert order.tolist() == sorted(range(20), key=lambda i: -scores[i])
    dets, keep = batched_nms(
        torch.zeros(0, 4), torch.zeros(0), torch.zeros(0), dict(iou_threshold=0.5)
    )
    assert dets.shape == (0, 5) and keep.shape == (0,)
    with pytest.raises(ModuleNotFoundError, match='soft_nms'):
        batched_nms(boxes, scores, classes, dict(type='soft_nms', iou_threshold=0.3))


def test_nms_match_groups_like_the_kernel():
    boxes, scores = random_boxes(25, 7)
    dets = torch.cat([boxes, scores[:, None]], 1)
    groups = nms_match(dets, 0.2)
    order = sorted(range(25), key=lambda i: -scores[i])
    expected, taken = [], set()
    for position, i in enumerate(order):
        if i in taken:
            continue
        taken.add(i)
        group = [i]
        for j in order[position + 1 :]:
            if j not in taken and iou(boxes[i].tolist(), boxes[j].tolist()) >= 0.2:
                taken.add(j)
                group.append(j)
        expected.append(group)
    assert [g.tolist() for g in groups] == expected
    assert [g.tolist() for g in nms_match(dets.numpy(), 0.2)] == expected
    assert nms_match(torch.zeros(0, 5), 0.5) == []
