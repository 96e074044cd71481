"""COCO-Stuff-164k label maps -> COCO-Object (GroupViT protocol: background + 80 things).

Input (mmseg's COCO-Stuff-164k layout, ``data/coco_stuff164k``)::

    annotations/val2017/000000000139_labelTrainIds.png   # input_format='trainid' (default):
                                                         #   0..79 things, 80..170 stuff, 255
    annotations/val2017/000000000139.png                 # input_format='raw' (stuffthingmaps):
                                                         #   COCO category id - 1, 255

The 80 thing classes become 1..80 (COCO order), every other class 0 (background); 255
(unlabelled) stays 255, the ignore index. Output, next to the input::

    annotations/val2017/000000000139_instanceTrainIds.png   # uint8
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from .common import run_parallel, summarise, write_label

IGNORE = 255
# COCO category ids 1..90 without the 10 unused ones, minus 1: the raw thing values.
_UNUSED_COCO_IDS = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)
RAW_THING_IDS: tuple[int, ...] = tuple(i - 1 for i in range(1, 91) if i not in _UNUSED_COCO_IDS)
INPUT_SUFFIX = {'trainid': '_labelTrainIds.png', 'raw': '.png'}
OUTPUT_SUFFIX = '_instanceTrainIds.png'


def object_lookup_table(input_format: str) -> np.ndarray:
    """uint8 table [256]: input value -> COCO-Object label."""
    if input_format not in INPUT_SUFFIX:
        raise ValueError(
            f'input_format must be one of {sorted(INPUT_SUFFIX)}, got {input_format!r}'
        )
    things = range(80) if input_format == 'trainid' else RAW_THING_IDS
    lut = np.zeros(256, dtype=np.uint8)
    lut[list(things)] = np.arange(1, 81, dtype=np.uint8)
    lut[IGNORE] = IGNORE
    return lut


def coco_object_labels(label_map: np.ndarray, *, input_format: str = 'trainid') -> np.ndarray:
    """COCO-Stuff labels [H, W] (uint8) -> COCO-Object labels uint8 [H, W]."""
    label_map = np.asarray(label_map)
    if label_map.ndim != 2 or label_map.dtype != np.uint8:
        raise ValueError(
            f'COCO-Stuff label maps are 2-D uint8, got {label_map.dtype} {label_map.shape}'
        )
    return object_lookup_table(input_format)[label_map]


def convert_one(path: Path, *, input_format: str, overwrite: bool) -> str:
    """Convert one COCO-Stuff map; the output goes next to it. Returns the write status."""
    with Image.open(path) as im:
        labels = coco_object_labels(np.asarray(im), input_format=input_format)
    stem = path.name[: -len(INPUT_SUFFIX[input_format])]
    return write_label(path.with_name(stem + OUTPUT_SUFFIX), labels, overwrite=overwrite)


def list_inputs(ann_dir: Path, input_format: str) -> list[Path]:
    """COCO-Stuff maps of ``ann_dir`` in the given format (ours and mmseg's outputs excluded)."""
    suffix = INPUT_SUFFIX[input_format]
    paths = sorted(ann_dir.glob(f'*{suffix}'))
    if input_format == 'raw':
        derived = ('_labelTrainIds.png', OUTPUT_SUFFIX)
        paths = [p for p in paths if not p.name.endswith(derived)]
    return paths


def convert_coco_object(
    ann_dir: str | Path,
    *,
    input_format: str = 'trainid',
    nproc: int = 1,
    overwrite: bool = False,
) -> list[str]:
    """Convert every COCO-Stuff map of ``ann_dir`` (e.g. ``annotations/val2017``).

    Args:
        ann_dir: Directory of the COCO-Stuff label maps.
        input_format: 'trainid' (mmseg ``*_labelTrainIds.png``) or 'raw' (stuffthingmaps).
        nproc: Worker processes.
        overwrite: Replace existing outputs that differ (else such a file is an error).

    Returns:
        list[str]: The write status of each output.
    """
    ann_dir = Path(ann_dir)
    object_lookup_table(input_format)  # validates the format early
    paths = list_inputs(ann_dir, input_format)
    if not paths:
        raise FileNotFoundError(
            f'No *{INPUT_SUFFIX[input_format]} maps in {ann_dir} (input_format={input_format!r}).'
        )
    func = functools.partial(convert_one, input_format=input_format, overwrite=overwrite)
    results = run_parallel(func, paths, nproc=nproc, desc='COCO-Object')
    print(f'{len(paths)} maps: {summarise(results)}')
    return results
