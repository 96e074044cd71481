"""mmpat backbones (GroupViT's image encoder lives with its family in ``mmpat.models.groupvit``)."""

from ..groupvit.image_encoder import GroupViT
from .clip_pyramid import CLIPPyramid

__all__: list[str] = ['CLIPPyramid', 'GroupViT']
