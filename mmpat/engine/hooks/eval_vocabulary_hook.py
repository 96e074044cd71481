"""Vocabulary from the val/test dataset only, for models trained without classes (captions)."""

from __future__ import annotations

from mmseg.registry import HOOKS

from .vocabulary_hook import VocabularyHook


@HOOKS.register_module()
class EvalVocabularyHook(VocabularyHook):
    """Like :class:`VocabularyHook`, but the training split is not consulted.

    Text-supervised models (e.g. ``GroupViTPretrain`` on ``ImageCaptionDataset``) have no
    training classes; before validation and testing the vocabulary is set from the val/test
    dataset's ``metainfo['classes']`` (or ``class_synonyms``).
    """

    def before_train(self, runner) -> None:
        """Nothing to do: the training data are captions."""

    def after_val(self, runner) -> None:
        """Keep the val vocabulary (training does not use it)."""
