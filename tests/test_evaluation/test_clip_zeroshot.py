"""Zero-shot dominant-object classification: the dominant class, the accuracy split by
seen/unseen, and the whole evaluation on a hand-made scenes folder with a stub CLIP whose
answers are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmpat.evaluation.clip_zeroshot import (
    clip_zeroshot_dominant,
    dominant_class,
    zeroshot_accuracy,
)

CLASSES = ['background', 'red circle', 'red star', 'blue circle', 'blue star']
SEEN, UNSEEN = ['red circle', 'blue star'], ['red star', 'blue circle']


def test_dominant_class_ignores_background_and_ignore():
    label = np.zeros((6, 6), np.uint8)
    label[:2] = 3  # 12 px
    label[2:5, :3] = 1  # 9 px
    label[5] = 255
    assert dominant_class(label) == 3
    assert dominant_class(np.zeros((4, 4), np.uint8)) == -1
    assert dominant_class(np.full((2, 2), 255, np.uint8)) == -1


def test_accuracy_by_group():
    result = zeroshot_accuracy([1, 2, 3, 3, 4], [1, 2, 2, 3, 1], dict(seen={1}, unseen={2, 3}))
    assert result['acc'] == pytest.approx(3 / 5)
    assert result['acc_seen'] == pytest.approx(1 / 2) and result['n_seen'] == 2
    assert result['acc_unseen'] == pytest.approx(2 / 3) and result['n_unseen'] == 3


class StubCLIP(torch.nn.Module):
    """Texts embed to one-hot rows in prompt order; an image embeds to the one-hot of the class
    written in its red channel (so the prediction is known)."""

    context_length = 16

    def __init__(self) -> None:
        super().__init__()
        self.visual = torch.nn.Module()
        self.visual.image_size = 8
        self.prompts = None

    def encode_text(self, tokens, normalize=False):
        self.prompts = tokens
        return torch.eye(len(tokens), 8)[:, :8]

    def encode_image(self, images, normalize=False):
        mean, std = 0.48145466, 0.26862954
        value = images[:, 0, 0, 0] * std + mean  # back to [0, 1]
        label = torch.round(value * 255).long()  # 1..4
        return torch.nn.functional.one_hot(label - 1, 8).float()


def make_scenes(root: Path, items: list[tuple[int, int]]) -> None:
    """``items``: (dominant label in the map, label the stub will predict)."""
    (root / 'img_dir/val').mkdir(parents=True)
    (root / 'ann_dir/val').mkdir(parents=True)
    meta = dict(classes=CLASSES, palette=[[0, 0, 0]] * 5, seen=SEEN, unseen=UNSEEN)
    (root / 'meta.json').write_text(json.dumps(meta))
    for i, (target, predicted) in enumerate(items):
        label = np.zeros((8, 8), np.uint8)
        label[:5] = target
        label[6:] = 4 if target != 4 else 1  # a smaller other object
        img = np.zeros((8, 8, 3), np.uint8)
        img[..., 0] = predicted
        Image.fromarray(label).save(root / f'ann_dir/val/{i:06d}.png')
        Image.fromarray(img).save(root / f'img_dir/val/{i:06d}.png')


def test_whole_evaluation_on_hand_made_scenes(tmp_path):
    # seen targets (1, 4): 2 right of 3; unseen targets (2, 3): 1 right of 2.
    items = [(1, 1), (4, 4), (1, 3), (2, 2), (3, 1)]
    make_scenes(tmp_path, items)
    model = StubCLIP()
    result = clip_zeroshot_dominant(model, str(tmp_path), batch_size=2)
    assert result['acc_seen'] == pytest.approx(2 / 3) and result['n_seen'] == 3
    assert result['acc_unseen'] == pytest.approx(1 / 2) and result['n_unseen'] == 2
    assert result['acc'] == pytest.approx(3 / 5)
    assert result['chance'] == pytest.approx(1 / 4) and result['num_classes'] == 4
    from open_clip import tokenize

    expected = tokenize([f'a photo of a {c}.' for c in CLASSES[1:]], context_length=16)
    assert torch.equal(model.prompts, expected)


def test_missing_data_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match='gen_scenes.py'):
        clip_zeroshot_dominant(StubCLIP(), str(tmp_path / 'none'))
