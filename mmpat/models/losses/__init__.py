"""mmpat losses."""

from .caption_nouns import extract_nouns, multi_label_prompts
from .groupvit_contrastive import GroupViTContrastiveLoss, all_gather_with_grad

__all__: list[str] = [
    'GroupViTContrastiveLoss',
    'all_gather_with_grad',
    'extract_nouns',
    'multi_label_prompts',
]
