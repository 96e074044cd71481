"""mmpat models, registered into ``mmseg.registry.MODELS``."""

from . import backbones, clip, decode_heads, groupvit, losses, necks, segmentors, text_encoders

__all__ = [
    'backbones',
    'clip',
    'decode_heads',
    'losses',
    'necks',
    'segmentors',
    'text_encoders',
    'groupvit',
]
