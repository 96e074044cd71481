"""Training/evaluation engine parts (hooks, optimizer wrappers)."""

from . import hooks
from .optim_wrappers import BF16AmpOptimWrapper

__all__ = ['BF16AmpOptimWrapper', 'hooks']
