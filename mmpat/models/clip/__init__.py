"""CLIP building blocks shared by the backbone, the text encoder and the pretraining model."""

from .presets import CLIP_PRESETS, build_open_clip, get_clip_preset

__all__ = ['CLIP_PRESETS', 'build_open_clip', 'get_clip_preset']
