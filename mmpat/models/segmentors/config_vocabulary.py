"""Where an open-vocabulary segmentor's vocabulary comes from outside the runner.

Inside a runner, ``VocabularyHook`` sets the vocabulary from the running split. mmseg's own entry
points (``mmseg.apis.init_model``, ``MMSegInferencer``) know nothing of it; what they do with a
model is assign ``model.dataset_meta`` (from the checkpoint's ``meta.dataset_meta``, or a
default: Cityscapes, or the first mmseg dataset with as many classes as ``decode_head``) and
``model.cfg`` (the config). :class:`ConfigVocabularyMixin` turns these two assignments into a
vocabulary, by priority:

1. a vocabulary set explicitly (``class_names=`` in the model config, ``set_vocabulary``, the
   hooks), unless a checkpoint's ``meta.dataset_meta`` names other classes;
2. the classes of a checkpoint's ``meta.dataset_meta`` (every checkpoint mmpat writes has one:
   ``VocabularyHook.before_save_checkpoint``);
3. the classes of the config's ``test_dataloader.dataset`` (else ``val_dataloader.dataset``),
   read without data on disk (:func:`dataset_metainfo`), resolved lazily: when the vocabulary
   is first needed (``dataset_meta`` read, ``forward``), so a checkpoint's meta assigned
   after the config still wins and a dataset that is not needed is never read;
4. mmseg's default ``dataset_meta`` only when nothing above is known (no config).

mmseg's default is recognised by its signature: the classes and palette of one of mmseg's
built-in datasets (:func:`is_mmseg_default_meta`). A real checkpoint of an mmpat model trained on
an mmseg built-in dataset has that signature too; it is then treated as the default, i.e. the
config's test dataset wins, which names the same classes unless the config was changed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from mmpat.utils.vocabulary import class_palette, primary_name

# Sources of the current vocabulary, weakest first ('default': mmseg's fallback meta).
_DEFAULT, _CONFIG, _CHECKPOINT, _EXPLICIT = 'default', 'config', 'checkpoint', 'explicit'


def _same_entries(a: Sequence, b: Sequence) -> bool:
    norm = lambda entries: [e if isinstance(e, str) else list(map(str, e)) for e in entries]  # noqa: E731
    return norm(a) == norm(b)


def is_mmseg_default_meta(meta: Mapping) -> bool:
    """Whether ``meta`` is one of the ``dataset_meta`` mmseg makes up for a checkpoint without
    one: the classes (and palette, when given) of a built-in mmseg dataset alias."""
    from mmseg.utils import dataset_aliases, get_classes, get_palette

    classes = [str(c) for c in meta.get('classes') or ()]
    palette = meta.get('palette')
    for name in dataset_aliases:
        if classes != [str(c) for c in get_classes(name)]:
            continue
        if palette is None:
            return True
        try:
            if [list(map(int, p)) for p in palette] == [list(p) for p in get_palette(name)]:
                return True
        except (TypeError, ValueError):
            continue
    return False


def vocabulary_meta(
    names: Sequence[str | Sequence[str]], palette: Sequence[Sequence[int]] | None = None
) -> dict[str, Any]:
    """The ``dataset_meta`` of a vocabulary: ``classes`` (display names), ``palette`` (one RGB
    per class; a missing or mis-sized palette is replaced by :func:`class_palette`) and
    ``class_synonyms`` (the entries as given, synonyms included)."""
    names = list(names)
    if palette is None or len(palette) != len(names):
        palette = class_palette(len(names))
    return dict(
        classes=tuple(primary_name(n) for n in names),
        palette=[[int(v) for v in c] for c in palette],
        class_synonyms=[n if isinstance(n, str) else list(n) for n in names],
    )


def dataset_metainfo(dataset_cfg: Mapping) -> dict:
    """The metainfo a dataset config would give, without reading its data.

    Dataset wrappers (``dataset=`` / ``datasets=``) give their (first) inner dataset's. A
    dataset class whose classes do not live in its ``METAINFO`` provides a classmethod
    ``metainfo_without_data(**kwargs)`` (e.g. ``ScenesDataset``, which reads
    ``<data_root>/meta.json``); for the others it is their ``METAINFO`` updated by the config's
    ``metainfo=`` (mmengine's ``_load_metainfo``).

    Args:
        dataset_cfg: A dataset config (``type`` and the dataset's arguments).

    Raises:
        KeyError: The dataset type is not registered.
        FileNotFoundError: A file holding the classes is missing (named).
    """
    from mmseg.registry import DATASETS

    cfg = dict(dataset_cfg)
    if isinstance(cfg.get('datasets'), (list, tuple)) and cfg['datasets']:
        return dataset_metainfo(cfg['datasets'][0])
    if isinstance(cfg.get('dataset'), Mapping):
        return dataset_metainfo(cfg['dataset'])
    kind = cfg.pop('type', None)
    cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    if cls is None:
        raise KeyError(f'dataset type {kind!r} is not registered (custom_imports missing?)')
    describe = getattr(cls, 'metainfo_without_data', None)
    if describe is not None:
        return dict(describe(**cfg))
    load = getattr(cls, '_load_metainfo', None)
    if load is not None:
        return dict(load(cfg.get('metainfo')))
    return {**dict(getattr(cls, 'METAINFO', None) or {}), **dict(cfg.get('metainfo') or {})}


def vocabulary_of(metainfo: Mapping) -> list | None:
    """The class entries of a dataset metainfo: ``class_synonyms`` if given, else ``classes``."""
    names = metainfo.get('class_synonyms') or metainfo.get('classes')
    return list(names) if names else None


def vocabulary_from_config(cfg: Mapping) -> tuple[list, list | None]:
    """Class entries and palette of a config's test dataset (else its val dataset).

    Args:
        cfg: A full config (``test_dataloader`` / ``val_dataloader``).

    Returns:
        tuple: The class entries and the palette (None when the dataset has none).

    Raises:
        ValueError: The config has no test/val dataset, or its dataset has no classes.
        FileNotFoundError: A file holding the classes is missing (e.g. the scenes'
            ``meta.json``).
    """
    for key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(key) if hasattr(cfg, 'get') else None
        dataset = loader.get('dataset') if isinstance(loader, Mapping) else None
        if isinstance(dataset, Mapping):
            break
    else:
        raise ValueError(
            'the config has no test_dataloader.dataset (nor val_dataloader.dataset) to take '
            'the vocabulary from: give model.class_names, a checkpoint with '
            'meta.dataset_meta, or call model.set_vocabulary([...])'
        )
    metainfo = dataset_metainfo(dataset)
    names = vocabulary_of(metainfo)
    if not names:
        raise ValueError(
            f'{key}.dataset ({dataset.get("type")}) has no classes in its metainfo: give '
            'model.class_names or call model.set_vocabulary([...])'
        )
    return names, metainfo.get('palette')


class ConfigVocabularyMixin:
    """``dataset_meta`` and ``cfg`` of an open-vocabulary segmentor (see the module docstring).

    The segmentor defines ``class_names`` and ``set_vocabulary(names, templates=None,
    palette=None)``, which ends with :meth:`_record_vocabulary`. Put the mixin first in the
    bases (its ``forward`` resolves the vocabulary, then calls the segmentor's).
    """

    _vocabulary_meta: dict | None = None
    _vocabulary_source: str | None = None
    _model_cfg: Any = None
    _default_meta: dict | None = None

    # ------------------------------------------------------------------ recording
    def _record_vocabulary(
        self, names: Sequence, palette: Sequence[Sequence[int]] | None = None
    ) -> None:
        """Called by ``set_vocabulary``: the vocabulary is now set explicitly."""
        meta = vocabulary_meta(names, palette)
        meta.pop('class_synonyms')
        self._vocabulary_meta = meta
        self._vocabulary_source = _EXPLICIT
        self._default_meta = None

    def _adopt(self, names: Sequence, palette, source: str) -> None:
        self.set_vocabulary(list(names), palette=palette)
        self._vocabulary_source = source

    def checkpoint_meta(self) -> dict | None:
        """What a checkpoint records as ``meta.dataset_meta``: ``classes``, ``palette`` and
        ``class_synonyms`` of the current vocabulary (None without one)."""
        if not self.class_names or self._vocabulary_meta is None:
            return None
        return vocabulary_meta(self.class_names, self._vocabulary_meta['palette'])

    # ------------------------------------------------------------------ resolution
    def _resolve_vocabulary(self) -> None:
        """Take the config's test dataset classes (or mmseg's default meta, without a config)
        when no better source has set the vocabulary."""
        if self._vocabulary_source not in (None, _DEFAULT):
            return
        if self._model_cfg is not None:
            names, palette = vocabulary_from_config(self._model_cfg)
            self._adopt(names, palette, _CONFIG)
        elif self._default_meta is not None and self._vocabulary_source is None:
            meta = self._default_meta
            self._adopt(list(meta['classes']), meta.get('palette'), _DEFAULT)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """mmseg's ``forward``, with the vocabulary resolved first (see the module docstring)."""
        self._resolve_vocabulary()
        return super().forward(inputs, data_samples, mode)

    @property
    def cfg(self):
        """The config mmseg's ``init_model`` / ``MMSegInferencer`` attach to the model."""
        if self._model_cfg is None:
            raise AttributeError('cfg')
        return self._model_cfg

    @cfg.setter
    def cfg(self, cfg) -> None:
        self._model_cfg = cfg

    @property
    def dataset_meta(self) -> dict | None:
        """``classes`` (display names) and ``palette`` of the vocabulary (resolved first)."""
        self._resolve_vocabulary()
        return self._vocabulary_meta

    @dataset_meta.setter
    def dataset_meta(self, meta: Mapping | None) -> None:
        classes = list(meta.get('classes') or ()) if meta else []
        if not classes:
            return
        palette = meta.get('palette')
        synonyms = meta.get('class_synonyms')
        if synonyms and [primary_name(s) for s in synonyms] == [str(c) for c in classes]:
            target, same = list(synonyms), _same_entries(synonyms, self.class_names)
        else:
            target = classes
            same = [str(c) for c in classes] == [primary_name(n) for n in self.class_names]
        if same and self._vocabulary_meta is not None:  # keep the entries and embeddings
            if palette is not None and len(palette) == len(classes):
                self._vocabulary_meta['palette'] = [[int(v) for v in c] for c in palette]
            return
        if is_mmseg_default_meta(meta):
            if self._vocabulary_source not in (None, _DEFAULT) or self._model_cfg is not None:
                kept = (
                    'its vocabulary'
                    if self._vocabulary_source not in (None, _DEFAULT)
                    else "the classes of the config's test dataset"
                )
                warnings.warn(
                    f'{type(self).__name__}: ignoring the dataset_meta classes '
                    f"{classes[:3]}... (mmseg's default for a checkpoint without "
                    f'meta.dataset_meta); the model keeps {kept}',
                    stacklevel=2,
                )
                return
            self._default_meta = dict(classes=classes, palette=palette)
            self._vocabulary_source = None  # adopted when first needed, unless a config comes
            return
        self._adopt(target, palette, _CHECKPOINT)
