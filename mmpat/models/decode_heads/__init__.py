"""mmpat decode heads."""

from .dense_clip_head import DenseCLIPHead

__all__: list[str] = ['DenseCLIPHead']
