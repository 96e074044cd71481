"""Tiny GroupViT models and configs shared by tests."""

from __future__ import annotations

import torch
from mmseg.registry import MODELS

TOKEN_TEXT_LOSS = dict(type='GroupTextMILLoss', loss_name='loss_token_text')


def shrink_groupvit_model(cfg: dict, arch: str = 'GroupViT-test') -> None:
    """A GroupViT model config -> the ``arch`` preset, in place: ``arch`` of the compatibility
    segmentors (``GroupViTPretrain``, ``GroupViTZeroShot``), else the sizes of the parts of the
    ``OpenVocabEncoderDecoder`` (``GroupViT`` backbone, ``GroupViTTextEncoder``,
    ``GroupViTZeroShotHead``); a conv stem, stage counts aside, is the config's."""
    from mmpat.models.groupvit import get_groupvit_preset

    if cfg['type'].startswith('GroupViT'):
        cfg['arch'] = arch
        return
    preset = get_groupvit_preset(arch)
    cfg['backbone'].update(preset['image'])
    cfg['text_encoder'].update(preset['text'], proj=dict(preset['proj']))
    cfg['decode_head'].update(in_channels=preset['image']['embed_dim'], proj=dict(preset['proj']))


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
