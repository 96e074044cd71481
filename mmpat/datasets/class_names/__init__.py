"""Class-name lists of the zero-shot benchmarks, and the unseen-class splits.

Lists (label ``i`` of the dataset is entry ``i``; entries may be "name, synonym" strings, which
the text encoder averages):

============================  =====  =========================================================
name                          count  notes
============================  =====  =========================================================
``ADE150_CLASSES``            150    mmseg ``ADE20KDataset`` names (stray spaces stripped)
``ADE150_SYNONYMS``           150    the same classes with the ``objectInfo150`` synonyms
``ADE847_CLASSES``            847    ADE20K-full, see :mod:`.ade847` (unique first names)
``PC59_CLASSES``              59     mmseg ``PascalContextDataset59``
``PC459_CLASSES``             459    PASCAL Context full, see :mod:`.pascal_context459`
``CONTEXT60_CLASSES``         60     'background' + PC-59 (GroupViT protocol)
``VOC20_CLASSES``             20     mmseg ``PascalVOCDataset`` without 'background'
``VOC21_CLASSES``             21     mmseg ``PascalVOCDataset``
``VOC21_GROUPVIT_CLASSES``    21     GroupViT names: 'table', 'plant', 'monitor'
``COCO_STUFF171_CLASSES``     171    mmseg ``COCOStuffDataset``
``COCO_OBJECT80_CLASSES``     80     the 80 COCO thing classes (first 80 of COCO-Stuff)
``COCO_OBJECT81_CLASSES``     81     'background' + the 80 things (GroupViT protocol)
============================  =====  =========================================================

``CLASS_LISTS`` also has ``<key>_readable`` variants of the VOC, PASCAL Context and COCO lists
with spelled-out synonyms ('pottedplant, potted plant'; see :mod:`.readable`, our choice).

``UNSEEN_CLASSES`` holds the zero-shot splits of MVP-SEG+ / MaskCLIP+ (VOC-20, COCO-Stuff-171,
PASCAL Context-59) by class name; :func:`seen_unseen_split` turns a split into index lists.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmseg.datasets import (
    ADE20KDataset,
    COCOStuffDataset,
    PascalContextDataset59,
    PascalVOCDataset,
)

from .ade150 import ADE150_SYNONYMS
from .ade847 import ADE847_ADE_IDS, ADE847_CANONICAL_NAMES, ADE847_CLASSES
from .pascal_context459 import PC459_CLASSES
from .readable import with_readable_synonyms

BACKGROUND = 'background'

ADE150_CLASSES: tuple[str, ...] = tuple(c.strip() for c in ADE20KDataset.METAINFO['classes'])
PC59_CLASSES: tuple[str, ...] = tuple(PascalContextDataset59.METAINFO['classes'])
CONTEXT60_CLASSES: tuple[str, ...] = (BACKGROUND,) + PC59_CLASSES
VOC21_CLASSES: tuple[str, ...] = tuple(PascalVOCDataset.METAINFO['classes'])
VOC20_CLASSES: tuple[str, ...] = VOC21_CLASSES[1:]
_GROUPVIT_VOC_NAMES = {'diningtable': 'table', 'pottedplant': 'plant', 'tvmonitor': 'monitor'}
VOC21_GROUPVIT_CLASSES: tuple[str, ...] = tuple(
    _GROUPVIT_VOC_NAMES.get(c, c) for c in VOC21_CLASSES
)
VOC20_GROUPVIT_CLASSES: tuple[str, ...] = VOC21_GROUPVIT_CLASSES[1:]
COCO_STUFF171_CLASSES: tuple[str, ...] = tuple(COCOStuffDataset.METAINFO['classes'])
COCO_OBJECT80_CLASSES: tuple[str, ...] = COCO_STUFF171_CLASSES[:80]
COCO_OBJECT81_CLASSES: tuple[str, ...] = (BACKGROUND,) + COCO_OBJECT80_CLASSES

# Unseen classes of the zero-shot splits used by the MaskCLIP+ and MVP-SEG(+) papers (also listed
# in configs/mvp_seg/README.md), written with the dataset's own class names (e.g. 'tvmonitor' for
# "tv monitor").
UNSEEN_CLASSES: dict[str, tuple[str, ...]] = {
    'voc20': ('pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'),
    'coco_stuff171': (
        'cow',
        'giraffe',
        'suitcase',
        'frisbee',
        'skateboard',
        'carrot',
        'scissors',
        'cardboard',
        'clouds',
        'grass',
        'playingfield',
        'river',
        'road',
        'tree',
        'wall-concrete',
    ),
    'pascal_context59': (
        'cow',
        'motorbike',
        'sofa',
        'cat',
        'boat',
        'fence',
        'bird',
        'tvmonitor',
        'keyboard',
        'aeroplane',
    ),
}

CLASS_LISTS: dict[str, tuple[str, ...]] = {
    'ade150': ADE150_CLASSES,
    'ade150_synonyms': ADE150_SYNONYMS,
    'ade847': ADE847_CLASSES,
    'pascal_context59': PC59_CLASSES,
    'pascal_context459': PC459_CLASSES,
    'context60': CONTEXT60_CLASSES,
    'voc20': VOC20_CLASSES,
    'voc21': VOC21_CLASSES,
    'voc20_groupvit': VOC20_GROUPVIT_CLASSES,
    'voc21_groupvit': VOC21_GROUPVIT_CLASSES,
    'coco_stuff171': COCO_STUFF171_CLASSES,
    'coco_object80': COCO_OBJECT80_CLASSES,
    'coco_object81': COCO_OBJECT81_CLASSES,
}
# Our choice: the same classes with spelled-out synonyms ('pottedplant, potted plant').
for _key in ('voc20', 'voc21', 'pascal_context59', 'context60', 'coco_stuff171', 'coco_object81'):
    CLASS_LISTS[f'{_key}_readable'] = with_readable_synonyms(CLASS_LISTS[_key])
_ALIASES = {
    'a-150': 'ade150',
    'a150': 'ade150',
    'a-847': 'ade847',
    'a847': 'ade847',
    'pc-59': 'pascal_context59',
    'pc59': 'pascal_context59',
    'pc-459': 'pascal_context459',
    'pc459': 'pascal_context459',
    'context-60': 'context60',
    'voc-20': 'voc20',
    'voc-21': 'voc21',
    'coco-stuff': 'coco_stuff171',
    'coco_stuff': 'coco_stuff171',
    'coco-stuff-171': 'coco_stuff171',
    'coco-object': 'coco_object81',
    'coco_object': 'coco_object81',
}


def get_class_names(name: str) -> tuple[str, ...]:
    """The class list of a benchmark by name.

    Args:
        name: A key of ``CLASS_LISTS`` or a short benchmark name ('A-847', 'PC-459', 'VOC-21',
            'COCO-Object', ...), case-insensitive.

    Returns:
        tuple[str, ...]: The class names, label order.

    Raises:
        KeyError: Unknown name (the message lists the known ones).
    """
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in CLASS_LISTS:
        known = sorted(set(CLASS_LISTS) | set(_ALIASES))
        raise KeyError(f'Unknown class list {name!r}; known: {known}')
    return CLASS_LISTS[key]


def seen_unseen_split(classes: Sequence[str], unseen: Sequence[str]) -> tuple[list[int], list[int]]:
    """Indices of the seen and unseen classes of a class list.

    Args:
        classes: The dataset's class names (label order).
        unseen: Names of the unseen classes (each must be in ``classes``).

    Returns:
        tuple[list[int], list[int]]: Sorted seen indices, sorted unseen indices.

    Raises:
        ValueError: An unseen name is not a class of the list.
    """
    classes = list(classes)
    missing = [name for name in unseen if name not in classes]
    if missing:
        raise ValueError(f'Unseen classes {missing} are not in the class list {classes}.')
    unseen_ids = sorted(classes.index(name) for name in unseen)
    seen_ids = [i for i in range(len(classes)) if i not in set(unseen_ids)]
    return seen_ids, unseen_ids


__all__ = [
    'ADE150_CLASSES',
    'ADE150_SYNONYMS',
    'ADE847_ADE_IDS',
    'ADE847_CANONICAL_NAMES',
    'ADE847_CLASSES',
    'BACKGROUND',
    'CLASS_LISTS',
    'COCO_OBJECT80_CLASSES',
    'COCO_OBJECT81_CLASSES',
    'COCO_STUFF171_CLASSES',
    'CONTEXT60_CLASSES',
    'PC459_CLASSES',
    'PC59_CLASSES',
    'UNSEEN_CLASSES',
    'VOC20_CLASSES',
    'VOC20_GROUPVIT_CLASSES',
    'VOC21_CLASSES',
    'VOC21_GROUPVIT_CLASSES',
    'get_class_names',
    'seen_unseen_split',
    'with_readable_synonyms',
]
