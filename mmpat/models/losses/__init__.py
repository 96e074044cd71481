"""mmpat losses."""

from .caption_nouns import extract_nouns, multi_label_prompts
from .groupvit_contrastive import GroupViTContrastiveLoss

__all__: list[str] = [
    'GroupViTContrastiveLoss',
    'extract_nouns',
    'multi_label_prompts',
]
