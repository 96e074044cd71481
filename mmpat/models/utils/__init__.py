"""Building blocks shared by several mmpat models."""

from .assignments import compose_assignments
from .gather import all_gather_with_grad
from .grad_scale import scale_gradient
from .pamr import PAMR
from .rescale import build_rescale
from .vector_quantizer import EMAVectorQuantizer, QuantizerOutput

__all__ = [
    'EMAVectorQuantizer',
    'PAMR',
    'QuantizerOutput',
    'all_gather_with_grad',
    'build_rescale',
    'compose_assignments',
    'scale_gradient',
]
