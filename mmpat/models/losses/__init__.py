"""mmpat losses."""

from .caption_nouns import extract_nouns, multi_label_prompts
from .fused_mask_nll_loss import FusedMaskNLLLoss
from .groupvit_contrastive import GroupViTContrastiveLoss
from .oc_loss import OCLoss
from .presence_bce_loss import PresenceBCELoss, presence_targets

__all__: list[str] = [
    'FusedMaskNLLLoss',
    'GroupViTContrastiveLoss',
    'OCLoss',
    'PresenceBCELoss',
    'extract_nouns',
    'multi_label_prompts',
    'presence_targets',
]
