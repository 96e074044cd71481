"""mmpat decode heads."""

from .dense_clip_head import DenseCLIPHead
from .pixel_recon_head import PixelReconHead
from .semantic_fusion_head import SemanticFusionHead

__all__: list[str] = ['DenseCLIPHead', 'PixelReconHead', 'SemanticFusionHead']
