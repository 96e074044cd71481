"""mmpat decode heads."""

from .dense_clip_head import DenseCLIPHead
from .groupvit_zero_shot_head import GroupViTZeroShotHead
from .multi_prompt_head import MultiPromptHead
from .pixel_recon_head import PixelReconHead
from .semantic_fusion_head import SemanticFusionHead
from .text_classifier_aspp_heads import TextClassifierASPPHead, TextClassifierSepASPPHead

__all__: list[str] = [
    'DenseCLIPHead',
    'GroupViTZeroShotHead',
    'MultiPromptHead',
    'PixelReconHead',
    'SemanticFusionHead',
    'TextClassifierASPPHead',
    'TextClassifierSepASPPHead',
]
