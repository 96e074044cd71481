"""mmpat losses."""

from .caption_nouns import extract_nouns, multi_label_prompts
from .group_purity import GroupPurityLoss
from .group_segment_consistency import GroupSegmentConsistencyLoss
from .group_text_mil import GroupTextMILLoss
from .group_usage import GroupUsageLoss
from .groupvit_contrastive import GroupViTContrastiveLoss
from .noun_swap_mil import NounSwapMILLoss

__all__: list[str] = [
    'GroupPurityLoss',
    'GroupSegmentConsistencyLoss',
    'GroupTextMILLoss',
    'GroupUsageLoss',
    'GroupViTContrastiveLoss',
    'NounSwapMILLoss',
    'extract_nouns',
    'multi_label_prompts',
]
