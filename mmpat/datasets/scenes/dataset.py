"""Segmentation splits of the generated scenes (class names and the seen/unseen split come
from ``<data_root>/meta.json``, written by :func:`mmpat.datasets.scenes.generate_scenes`)."""

from __future__ import annotations

import json
import os.path as osp
from collections.abc import Sequence
from typing import Any

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


def read_scenes_meta(data_root: str) -> dict[str, Any]:
    """Load ``<data_root>/meta.json`` with a clear error when it is missing."""
    path = osp.join(data_root, 'meta.json')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: generate the scenes first with '
            f'`python tools/dataset_converters/gen_scenes.py --out {data_root}`'
        )
    with open(path) as f:
        meta = json.load(f)
    for key in ('classes', 'palette', 'seen', 'unseen'):
        if key not in meta:
            raise KeyError(f'{path} lacks the key {key!r} (not a scenes meta file?)')
    return meta


LEVELS = ('class', 'colour', 'shape')


def merge_classes(classes: Sequence[str], level: str) -> tuple[list[str], dict[int, int]]:
    """Class names of a coarser vocabulary and the label map from ``classes`` to it.

    Args:
        classes (Sequence[str]): ``['background', '<colour> <shape>', ...]`` (meta.json).
        level (str): ``'class'`` (unchanged), ``'colour'`` (``'red object'``, the captions'
            own phrasing for a colour alone) or ``'shape'`` (``'circle'``).

    Returns:
        tuple: the merged names (background first, then in order of first appearance) and
        ``{old index: new index}`` for every old class (empty for ``'class'``).
    """
    if level not in LEVELS:
        raise ValueError(f'level must be one of {LEVELS}, got {level!r}')
    if level == 'class':
        return list(classes), {}
    names, label_map = [classes[0]], {0: 0}
    for index, name in enumerate(classes[1:], start=1):
        words = name.split()
        if len(words) != 2:
            raise ValueError(f'level={level!r} needs "<colour> <shape>" class names, got {name!r}')
        merged = f'{words[0]} object' if level == 'colour' else words[1]
        if merged not in names:
            names.append(merged)
        label_map[index] = names.index(merged)
    return names, label_map


def check_class_names(names: Sequence[str], classes: Sequence[str], what: str) -> list[str]:
    """Return ``names`` as a list; raise ValueError naming any name not in ``classes``."""
    if isinstance(names, str):
        raise TypeError(f'{what} must be a list of class names, got the string {names!r}')
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise ValueError(
            f'unknown class name(s) {unknown} in {what}; known classes: {list(classes)}'
        )
    return list(names)


def scenes_metainfo(
    data_root: str,
    *,
    seen_classes: Sequence[str] | None = None,
    unseen_classes: Sequence[str] | None = None,
    level: str = 'class',
    vocabulary: str = 'all',
    unlabelled_unseen: bool = False,
) -> tuple[dict[str, Any], dict[int, int]]:
    """The metainfo of a :class:`ScenesDataset` and its label map, from ``meta.json`` only.

    Args: as :class:`ScenesDataset`.

    Returns:
        tuple: ``classes``/``palette``/``seen_classes``/``unseen_classes`` and the label map
        from the ``meta.json`` classes to them (empty when unchanged).

    Raises:
        FileNotFoundError: ``<data_root>/meta.json`` is missing (named).
        ValueError: Inconsistent arguments or unknown class names.
    """
    if vocabulary not in ('all', 'seen'):
        raise ValueError(f"vocabulary must be 'all' or 'seen', got {vocabulary!r}")
    if unlabelled_unseen and (vocabulary != 'all' or level != 'class'):
        raise ValueError(
            "unlabelled_unseen=True needs vocabulary='all' and level='class' (it keeps "
            f'every class in the vocabulary), got vocabulary={vocabulary!r}, level={level!r}'
        )
    meta = read_scenes_meta(data_root)
    classes = meta['classes']
    seen = check_class_names(
        meta['seen'] if seen_classes is None else seen_classes, classes, 'seen_classes'
    )
    unseen = check_class_names(
        meta['unseen'] if unseen_classes is None else unseen_classes, classes, 'unseen_classes'
    )
    both = sorted(set(seen) & set(unseen))
    if both:
        raise ValueError(f'class(es) {both} are both in seen_classes and unseen_classes')
    palette = [list(p) for p in meta['palette']]
    names, merge_map = merge_classes(classes, level)
    if merge_map:
        if seen_classes is not None or unseen_classes is not None:
            raise ValueError(
                f'seen_classes/unseen_classes apply to level="class" only, not {level!r}'
            )
        # each merged class takes the colour of its first member
        first = {new: old for old, new in sorted(merge_map.items(), reverse=True)}
        palette = [palette[first[new]] for new in range(len(names))]
        seen, unseen = names[1:], []
    if vocabulary == 'seen':
        keep = [0] + [i for i, n in enumerate(names) if n in seen and i != 0]
        old_map = merge_map or {i: i for i in range(len(classes))}
        new_index = {old: new for new, old in enumerate(keep)}
        merge_map = {c: new_index.get(m, 255) for c, m in old_map.items()}
        palette = [palette[i] for i in keep]
        names = [names[i] for i in keep]  # metainfo keeps the (absent) unseen names
    if unlabelled_unseen:
        # the names stay, the pixels are ignored: the model must find unseen objects itself
        merge_map = {i: 255 if n in unseen else i for i, n in enumerate(names)}
    metainfo = dict(
        classes=tuple(names),
        palette=palette,
        seen_classes=tuple(seen),
        unseen_classes=tuple(unseen),
    )
    return metainfo, merge_map


@DATASETS.register_module()
class ScenesDataset(BaseSegDataset):
    """One split of the generated scenes: ``img_dir/<split>/*.png`` with
    ``ann_dir/<split>/*.png`` label maps (0 = background).

    ``metainfo`` carries ``classes`` and ``palette`` from ``meta.json`` plus ``seen_classes``
    and ``unseen_classes`` (names), which :class:`OpenVocabIoUMetric` reads.

    Args:
        data_root: The scenes root (holds ``meta.json``).
        split: ``'train'``, ``'val'`` or ``'pretrain'`` (all classes; its label maps serve the
            transductive setting, see ``unlabelled_unseen``; the CLIP pretraining reads only
            its captions, with ``ImageCaptionDataset`` on ``captions/pretrain.jsonl``).
        seen_classes: Override the seen class names (default: ``meta.json``'s ``seen``).
        unseen_classes: Override the unseen class names (default: ``meta.json``'s ``unseen``).
        level: ``'class'`` (the 30 compositions), or a coarser vocabulary that merges them:
            ``'colour'`` (``'red object'``, ...) or ``'shape'`` (``'circle'``, ...), with the
            label maps merged alike (see :func:`merge_classes`). Every colour and every shape
            is seen in training, so at these levels all classes are seen.
        vocabulary: ``'all'`` (every class of the level) or ``'seen'``: the training
            vocabulary of the inductive zero-shot setting, background plus the seen classes
            only, with the label maps re-indexed to it (unseen labels become 255, ignored;
            the ``train`` split has none). ``VocabularyHook`` refuses a training vocabulary
            with unseen classes.
        unlabelled_unseen: The transductive zero-shot setting (MVP-SEG+): the vocabulary keeps
            every class, but the pixels of the unseen classes are unlabelled (label 255,
            ignored), e.g. on ``split='pretrain'``, whose images hold unseen objects. Needs
            ``vocabulary='all'`` and ``level='class'``; train with
            ``VocabularyHook(inductive=False)``.
        **kwargs: Other :class:`mmseg.datasets.BaseSegDataset` arguments (``pipeline``,
            ``test_mode``, ``indices``, ...). ``data_prefix``/``img_suffix`` are set here.
    """

    def __init__(
        self,
        *,
        data_root: str,
        split: str = 'val',
        seen_classes: Sequence[str] | None = None,
        unseen_classes: Sequence[str] | None = None,
        level: str = 'class',
        vocabulary: str = 'all',
        unlabelled_unseen: bool = False,
        **kwargs,
    ) -> None:
        metainfo, merge_map = scenes_metainfo(
            data_root,
            seen_classes=seen_classes,
            unseen_classes=unseen_classes,
            level=level,
            vocabulary=vocabulary,
            unlabelled_unseen=unlabelled_unseen,
        )
        ann_dir = osp.join(data_root, 'ann_dir', split)
        if not osp.isdir(ann_dir):
            raise FileNotFoundError(
                f'{ann_dir} not found: split {split!r} has no label maps (scenes have '
                'ann_dir/{pretrain,train,val}; ann_dir/pretrain since generator version 3). '
                'Regenerate, or upgrade a version-2 folder in place, with '
                f'`python tools/dataset_converters/gen_scenes.py --out {data_root}`'
            )
        metainfo.update(kwargs.pop('metainfo', None) or {})
        self.split = split
        self.level = level
        self.unlabelled_unseen = unlabelled_unseen
        lazy_init = kwargs.pop('lazy_init', False)
        super().__init__(
            data_root=data_root,
            data_prefix=dict(img_path=f'img_dir/{split}', seg_map_path=f'ann_dir/{split}'),
            img_suffix='.png',
            seg_map_suffix='.png',
            metainfo=metainfo,
            lazy_init=True,
            **kwargs,
        )
        if merge_map:
            # every data info carries it and LoadAnnotations applies it to the label map
            self.label_map = merge_map
            self._metainfo['label_map'] = merge_map
        if not lazy_init:
            self.full_init()

    @classmethod
    def metainfo_without_data(
        cls,
        *,
        data_root: str,
        seen_classes: Sequence[str] | None = None,
        unseen_classes: Sequence[str] | None = None,
        level: str = 'class',
        vocabulary: str = 'all',
        unlabelled_unseen: bool = False,
        metainfo: dict | None = None,
        **_,
    ) -> dict[str, Any]:
        """The metainfo this dataset would have, from ``<data_root>/meta.json`` alone (no
        images or label maps needed; used to give a model the vocabulary of its config's
        test dataset, see :mod:`mmpat.models.segmentors.config_vocabulary`)."""
        info, _map = scenes_metainfo(
            data_root,
            seen_classes=seen_classes,
            unseen_classes=unseen_classes,
            level=level,
            vocabulary=vocabulary,
            unlabelled_unseen=unlabelled_unseen,
        )
        info.update(metainfo or {})
        return info
