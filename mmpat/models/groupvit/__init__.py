"""GroupViT (Xu et al., CVPR 2022; arXiv 2202.11094): image encoder (backbone ``GroupViT``),
text transformer, projectors, presets, weight converters.

The open-vocabulary parts registered elsewhere: the text encoder
:class:`mmpat.models.text_encoders.GroupViTTextEncoder` and the zero-shot protocol
:class:`mmpat.models.decode_heads.GroupViTZeroShotHead`, under ``OpenVocabEncoderDecoder``
(:func:`groupvit_zero_shot_cfg`).
"""

from ..text_encoders.groupvit_text_encoder import GroupViTTextEncoder
from .convert import (
    check_groupvit_shapes,
    convert_groupvit_state_dict,
    hf_to_released,
    load_groupvit_part,
    load_groupvit_weights,
    released_to_mmpat,
    upgrade_legacy_keys,
)
from .image_encoder import GroupViT
from .presets import GROUPVIT_PRESETS, get_groupvit_preset, groupvit_zero_shot_cfg
from .projector import GroupViTProjector
from .text_encoder import GroupViTTextTransformer

__all__ = [
    'GROUPVIT_PRESETS',
    'GroupViT',
    'GroupViTProjector',
    'GroupViTTextEncoder',
    'GroupViTTextTransformer',
    'check_groupvit_shapes',
    'convert_groupvit_state_dict',
    'get_groupvit_preset',
    'groupvit_zero_shot_cfg',
    'hf_to_released',
    'load_groupvit_part',
    'load_groupvit_weights',
    'released_to_mmpat',
    'upgrade_legacy_keys',
]
