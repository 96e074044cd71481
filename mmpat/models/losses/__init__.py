"""mmpat losses."""

from .caption_nouns import extract_nouns, multi_label_prompts
from .fused_mask_nll_loss import FusedMaskNLLLoss
from .group_purity import GroupPurityLoss
from .group_segment_consistency import GroupSegmentConsistencyLoss
from .group_text_mil import GroupTextMILLoss
from .group_usage import GroupUsageLoss
from .groupvit_contrastive import GroupViTContrastiveLoss
from .noun_swap_mil import NounSwapMILLoss
from .oc_loss import OCLoss
from .presence_bce_loss import PresenceBCELoss, presence_targets

__all__: list[str] = [
    'FusedMaskNLLLoss',
    'GroupPurityLoss',
    'GroupSegmentConsistencyLoss',
    'GroupTextMILLoss',
    'GroupUsageLoss',
    'GroupViTContrastiveLoss',
    'NounSwapMILLoss',
    'OCLoss',
    'PresenceBCELoss',
    'extract_nouns',
    'multi_label_prompts',
    'presence_targets',
]
