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


@DATASETS.register_module()
class ScenesDataset(BaseSegDataset):
    """One split of the generated scenes: ``img_dir/<split>/*.png`` with
    ``ann_dir/<split>/*.png`` label maps (0 = background).

    ``metainfo`` carries ``classes`` and ``palette`` from ``meta.json`` plus ``seen_classes``
    and ``unseen_classes`` (names), which :class:`OpenVocabIoUMetric` reads.

    Args:
        data_root: The scenes root (holds ``meta.json``).
        split: ``'train'`` or ``'val'`` (``'pretrain'`` has no label maps; use
            ``ImageCaptionDataset`` on ``captions/pretrain.jsonl``).
        seen_classes: Override the seen class names (default: ``meta.json``'s ``seen``).
        unseen_classes: Override the unseen class names (default: ``meta.json``'s ``unseen``).
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
        **kwargs,
    ) -> None:
        meta = read_scenes_meta(data_root)
        if not osp.isdir(osp.join(data_root, 'ann_dir', split)):
            raise FileNotFoundError(
                f'{osp.join(data_root, "ann_dir", split)} not found: split {split!r} has no '
                'label maps (scenes have ann_dir/train and ann_dir/val)'
            )
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
        metainfo = dict(
            classes=tuple(classes),
            palette=[list(p) for p in meta['palette']],
            seen_classes=tuple(seen),
            unseen_classes=tuple(unseen),
        )
        metainfo.update(kwargs.pop('metainfo', None) or {})
        self.split = split
        super().__init__(
            data_root=data_root,
            data_prefix=dict(img_path=f'img_dir/{split}', seg_map_path=f'ann_dir/{split}'),
            img_suffix='.png',
            seg_map_suffix='.png',
            metainfo=metainfo,
            **kwargs,
        )
