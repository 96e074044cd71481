"""Building blocks shared by several mmpat models."""

from .assignments import compose_assignments
from .gather import all_gather_with_grad

__all__ = ['all_gather_with_grad', 'compose_assignments']
