"""The generated scenes' GroupViT recipe: extra grouping losses and a conv stem.

Importing this package registers (in mmseg's ``MODELS``) the ``GroupViTPretrain`` extension
:class:`ScenesGroupingLosses`, its losses and :class:`ConvStem`. The configs in
``projects/groupvit_scenes/configs/`` import it with ``custom_imports``.
"""

from .conv_stem import ConvStem
from .losses.group_purity import GroupPurityLoss
from .losses.group_segment_consistency import GroupSegmentConsistencyLoss
from .losses.group_text_mil import GroupTextMILLoss
from .losses.group_usage import GroupUsageLoss
from .losses.noun_swap_mil import NounSwapMILLoss
from .scenes_grouping_losses import ScenesGroupingLosses

__all__ = [
    'ConvStem',
    'GroupPurityLoss',
    'GroupSegmentConsistencyLoss',
    'GroupTextMILLoss',
    'GroupUsageLoss',
    'NounSwapMILLoss',
    'ScenesGroupingLosses',
]
