"""``MMSegInferencer`` gives an open-vocabulary model its checkpoint's whole vocabulary.

mmseg's ``MMSegInferencer._load_weights_to_model`` copies only ``classes`` and ``palette`` of a
checkpoint's ``meta.dataset_meta`` to the model, so the synonyms mmpat records there
(``class_synonyms``: ``'dog, puppy'`` is one class named by both words, its text embedding the
mean of both) were lost and the model re-encoded the display names alone: other embeddings,
other predictions than ``init_model`` gives for the same checkpoint. After mmseg's own loading,
the model that can take a vocabulary (``set_vocabulary``) gets the recorded meta as a whole.
Models without synonyms in their checkpoint, and closed-vocabulary models, are untouched.
"""

from __future__ import annotations

_MARK = '__mmpat_vocabulary__'


def install_inferencer_vocabulary() -> None:
    """Wrap ``MMSegInferencer._load_weights_to_model`` (idempotent)."""
    from mmseg.apis.mmseg_inferencer import MMSegInferencer

    original = MMSegInferencer._load_weights_to_model
    if getattr(original, _MARK, False):
        return

    def _load_weights_to_model(self, model, checkpoint, cfg):
        original(self, model, checkpoint, cfg)
        meta = ((checkpoint or {}).get('meta') or {}).get('dataset_meta') or {}
        if meta.get('class_synonyms') and callable(getattr(model, 'set_vocabulary', None)):
            model.dataset_meta = dict(meta)

    setattr(_load_weights_to_model, _MARK, True)
    _load_weights_to_model.__doc__ = original.__doc__
    MMSegInferencer._load_weights_to_model = _load_weights_to_model
