"""Tiny GroupViT models shared by tests."""

from __future__ import annotations

import torch
from mmseg.registry import MODELS

TOKEN_TEXT_LOSS = dict(type='GroupTextMILLoss', loss_name='loss_token_text')


def tiny_pretrain_with_token_loss(seed: int = 0):
    """GroupViT-test pretraining model, 2 prompts, with ``token_text_loss`` (token projector)."""
    torch.manual_seed(seed)
    return MODELS.build(
        dict(
            type='GroupViTPretrain',
            arch='GroupViT-test',
            num_prompts=2,
            token_text_loss=TOKEN_TEXT_LOSS,
        )
    )
