"""Tiny GroupViT models and configs shared by tests."""

from __future__ import annotations


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
