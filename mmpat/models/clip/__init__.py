"""CLIP building blocks shared by the backbone, the text encoder and the pretraining model."""

from .presets import CLIP_PRESETS, build_open_clip, get_clip_preset
from .weights import convert_hf_clip_state_dict, load_clip_state_dict, load_clip_tower

__all__ = [
    'CLIP_PRESETS',
    'build_open_clip',
    'get_clip_preset',
    'convert_hf_clip_state_dict',
    'load_clip_state_dict',
    'load_clip_tower',
]
