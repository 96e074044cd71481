"""mmpat hooks, registered into ``mmseg.registry.HOOKS``."""

from .export_clip_hook import ExportCLIPHook
from .vocabulary_hook import VocabularyHook

__all__ = ['ExportCLIPHook', 'VocabularyHook']
