"""Shared fixture: a tiny GroupViTPretrain in train mode and its losses on a caption batch."""

from __future__ import annotations

import pytest
import torch
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

SCENE_CAPTIONS = ('a red circle and a blue star', 'a green square', 'a yellow cross')


@pytest.fixture
def pretrain_losses():
    """``fn(**model_fields) -> (model, losses)`` for GroupViT-test with 2 noun-phrase prompts."""

    def build_and_run(**fields):
        torch.manual_seed(0)
        cfg = dict(type='GroupViTPretrain', arch='GroupViT-test', num_prompts=2, noun_phrases=True)
        model = MODELS.build(dict(cfg, **fields))
        model.train()
        samples = [SegDataSample(metainfo=dict(caption=c)) for c in SCENE_CAPTIONS]
        return model, model.loss(torch.randn(len(samples), 3, 64, 64), samples)

    return build_and_run
