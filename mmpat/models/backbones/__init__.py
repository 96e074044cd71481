"""mmpat backbones."""

from .clip_pyramid import CLIPPyramid

__all__: list[str] = ['CLIPPyramid']
