"""Training/evaluation engine parts (hooks)."""

from . import hooks

__all__ = ['hooks']
