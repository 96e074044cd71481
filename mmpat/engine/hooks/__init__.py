"""mmpat hooks, registered into ``mmseg.registry.HOOKS``."""

from .vocabulary_hook import VocabularyHook

__all__ = ['VocabularyHook']
