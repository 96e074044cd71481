"""Oracle group labels and best-group IoUs on hand-made maps; the GroupViT report tool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mmpat.evaluation.grouping_quality import best_group_ious, oracle_labels

ROOT = Path(__file__).resolve().parents[2]


def test_oracle_labels_take_the_majority_class_of_each_group():
    groups = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2]])
    gt = np.array([[3, 3, 5, 255], [3, 4, 255, 255], [0, 255, 0, 7]])
    out = oracle_labels(groups, gt)
    # group 0: 3,3,3,4 -> 3; group 1: only 5 is valid -> 5; group 2: 0,0,7 -> 0
    expected = np.array([[3, 3, 5, 5], [3, 3, 5, 5], [0, 0, 0, 0]])
    assert np.array_equal(out, expected)
    # a group of ignored pixels only stays ignored
    assert np.all(oracle_labels(np.zeros((2, 2), int), np.full((2, 2), 255)) == 255)
    with pytest.raises(ValueError, match='differ in shape'):
        oracle_labels(groups, gt[:2])


def test_best_group_iou_per_object():
    gt = np.zeros((4, 4), int)
    gt[:2, :2] = 1  # object 1: 4 pixels
    gt[3, 3] = 2  # object 2: 1 pixel
    groups = np.zeros((4, 4), int)
    groups[:2, :3] = 1  # 6 pixels covering object 1 -> IoU 4/6
    ious = best_group_ious(groups, gt)
    assert ious == pytest.approx([4 / 6, 1 / 10])  # object 2 shares group 0 (10 pixels)
    assert best_group_ious(groups, np.zeros((4, 4), int)) == []  # background only


@pytest.mark.slow
def test_report_tool_runs_on_a_tiny_model(tmp_path):
    from mmseg.registry import MODELS

    from mmpat.datasets.scenes.generator import generate_scenes

    data = tmp_path / 'scenes'
    generate_scenes(str(data), size=64, num_pretrain=0, num_train=0, num_val=4, progress=False)
    config = tmp_path / 'cfg.py'
    config.write_text(
        f"_base_ = '{ROOT}/projects/groupvit_scenes/configs/groupvit-tiny_scenes-captions.py'\n"
        "model = dict(arch='GroupViT-test', data_preprocessor=dict(size=(64, 64)))\n"
        f"test_dataloader = dict(dataset=dict(data_root='{data}'))\n"
    )
    torch.manual_seed(0)
    model = MODELS.build(dict(type='GroupViTPretrain', arch='GroupViT-test'))
    weights = tmp_path / 'w.pth'
    torch.save(dict(state_dict=model.state_dict()), weights)
    command = [sys.executable, 'tools/analysis/groupvit_grouping_report.py', str(config),
               str(weights), '--json']  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result['images'] == 4
    assert 1 <= result['groups_per_image'] <= 2  # GroupViT-test has 2 final groups
    # the oracle naming of the same groups can only do better than the protocol's naming
    assert result['mIoU_oracle_labels']['aAcc'] >= result['mIoU_protocol']['aAcc']
    assert result['trivial']['class'] == 'background'
    assert 0 <= result['dominant_object']['image_acc'] <= 1
    assert 0 <= result['confident_group']['object_fraction'] <= 1
    missing = subprocess.run(
        [sys.executable, 'tools/analysis/groupvit_grouping_report.py', 'nope.py', str(weights)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert missing.returncode == 2 and "config 'nope.py' does not exist" in missing.stderr


def _report_tool():
    import importlib.util

    path = ROOT / 'tools/analysis/groupvit_grouping_report.py'
    spec = importlib.util.spec_from_file_location('groupvit_grouping_report', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_most_confident_group_statistics():
    tool = _report_tool()

    def record(stats, groups, gt, scores, offset):
        tool._record_confident_group(stats, groups, oracle_labels(groups, gt), scores, offset)

    groups = np.array([[0, 0, 1], [0, 0, 2]])
    gt = np.array([[0, 0, 3], [0, 0, 255]])  # group 1 holds object 3; group 2 only ignored
    stats = dict(is_object=[], named_right=[], object_score=[], background_score=[])
    scores = np.zeros((3, 4))  # [S, C] foreground classes 1..4 (offset 1)
    scores[0, 0], scores[1, 2], scores[2, 3] = 0.2, 0.5, 0.9
    record(stats, groups, gt, scores, 1)
    # group 2 (only ignored pixels) is the most confident: not an object
    assert stats['is_object'] == [False] and stats['named_right'] == []
    assert stats['object_score'] == [0.5] and stats['background_score'] == [0.2]
    scores[2, 3] = 0.0
    record(stats, groups, gt, scores, 1)  # now group 1, named class 2 + 1 = 3: right
    assert stats['is_object'] == [False, True] and stats['named_right'] == [True]
    scores[1] = [0.0, 0.6, 0.0, 0.0]
    record(stats, groups, gt, scores, 1)  # named class 1 + 1 = 2: wrong
    assert stats['named_right'] == [True, False]


def test_most_confident_group_holds_the_objects():
    tool = _report_tool()
    groups = np.array([[0, 0, 1, 1], [0, 2, 2, 1]])
    gt = np.array([[0, 4, 0, 0], [0, 4, 4, 255]])  # group 2 holds 2 object pixels, group 0 one
    stats = dict(is_object=[], named_right=[], object_score=[], background_score=[],
                 holds_most_object=[], object_share=[])  # fmt: skip
    scores = np.zeros((3, 4))
    scores[0, 0] = 0.9  # group 0 (3 pixels, 1 object) is kept
    tool._record_confident_group(stats, groups, oracle_labels(groups, gt), scores, 1, gt)
    assert stats['holds_most_object'] == [False] and stats['object_share'] == [1 / 3]
    scores[2, 3] = 1.0  # now group 2: both its pixels are object
    tool._record_confident_group(stats, groups, oracle_labels(groups, gt), scores, 1, gt)
    assert stats['holds_most_object'] == [False, True] and stats['object_share'][1] == 1.0
    no_objects = np.zeros_like(gt)
    tool._record_confident_group(stats, groups, oracle_labels(groups, no_objects), scores, 1,
                                 no_objects)  # fmt: skip
    assert len(stats['holds_most_object']) == 2  # images without objects are left out


def test_shared_word_cosines():
    tool = _report_tool()
    classes = ['red circle', 'red square', 'blue circle', 'blue square']
    # the text ignores the shape word: same-colour names coincide
    emb = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 2.0]])
    cos = tool.shared_word_cosines(classes, emb)
    assert cos == dict(first_word=pytest.approx(1.0), last_word=pytest.approx(0.0))
    emb = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6], [0.0, 1.0]])
    cos = tool.shared_word_cosines(classes, emb)
    assert cos['first_word'] == pytest.approx((0.6 + 0.6) / 2)  # (0,1) and (2,3)
    assert cos['last_word'] == pytest.approx((0.8 + 0.8) / 2)  # (0,2) and (1,3)
    assert tool.shared_word_cosines(['cat', 'red circle'], emb[:2]) is None
