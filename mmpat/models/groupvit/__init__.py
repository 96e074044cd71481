"""GroupViT (arXiv 2202.11094): image encoder, text encoder, projectors, presets, converters."""

from .convert import (
    check_groupvit_shapes,
    convert_groupvit_state_dict,
    hf_to_released,
    load_groupvit_weights,
    released_to_mmpat,
)
from .image_encoder import GroupViT
from .presets import GROUPVIT_PRESETS, get_groupvit_preset
from .projector import GroupViTProjector
from .text_encoder import GroupViTTextEncoder

__all__ = [
    'GROUPVIT_PRESETS',
    'GroupViT',
    'GroupViTProjector',
    'GroupViTTextEncoder',
    'check_groupvit_shapes',
    'convert_groupvit_state_dict',
    'get_groupvit_preset',
    'hf_to_released',
    'load_groupvit_weights',
    'released_to_mmpat',
]
