"""mmpat hooks, registered into ``mmseg.registry.HOOKS``."""

from .eval_vocabulary_hook import EvalVocabularyHook
from .export_clip_hook import ExportCLIPHook
from .pseudo_label_hook import PseudoLabelHook
from .vocabulary_hook import VocabularyHook

__all__ = ['EvalVocabularyHook', 'ExportCLIPHook', 'PseudoLabelHook', 'VocabularyHook']
