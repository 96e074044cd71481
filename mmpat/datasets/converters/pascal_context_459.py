"""PASCAL Context full annotations (``.mat``) -> PC-459 16-bit label maps.

Input layout (``VOCdevkit/VOC2010`` with the PASCAL Context ``trainval.tar.gz`` unpacked in it)::

    VOC2010/JPEGImages/2008_000002.jpg
    VOC2010/trainval/2008_000002.mat          # variable 'LabelMap', classes 1..459, 0 unlabelled
    VOC2010/ImageSets/SegmentationContext/val.txt   # mmseg's PASCAL Context val list (5105 ids)
      or VOC2010/ImageSets/Main/val.txt             # the same 5105 VOC2010 val ids

Labels ``1..459`` (the order of ``labels.txt`` / ``PC459_CLASSES``) become ``0..458``; 0 becomes
65535 (ignore). If the release's ``labels.txt`` ("1: accordion" lines) is given or found in the
VOC2010 or ``trainval`` directory, it is checked against ``PC459_CLASSES`` first. Output::

    VOC2010/SegmentationClassContext459/<id>.png            # uint16
    VOC2010/ImageSets/SegmentationContext459/val.txt        # the converted ids
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import scipy.io

from ..class_names import PC459_CLASSES
from .common import run_parallel, summarise, write_label, write_lines

IGNORE = 65535
DEFAULT_SPLIT_FILES = ('ImageSets/SegmentationContext/val.txt', 'ImageSets/Main/val.txt')


def pc459_labels(label_map: np.ndarray, *, source: str = 'LabelMap') -> np.ndarray:
    """PASCAL Context ``LabelMap`` (0 unlabelled, 1..459) -> uint16 labels (0..458, 65535).

    Raises:
        ValueError: The map is not 2-D or has values outside 0..459.
    """
    label_map = np.asarray(label_map)
    if label_map.ndim != 2:
        raise ValueError(f'{source}: LabelMap must be 2-D, got shape {label_map.shape}')
    if label_map.size and (label_map.min() < 0 or label_map.max() > len(PC459_CLASSES)):
        raise ValueError(
            f'{source}: LabelMap values must be in 0..{len(PC459_CLASSES)}, '
            f'got {label_map.min()}..{label_map.max()}'
        )
    label_map = label_map.astype(np.int64)
    return np.where(label_map == 0, IGNORE, label_map - 1).astype(np.uint16)


def read_label_map(mat_path: Path) -> np.ndarray:
    """The ``LabelMap`` array of a PASCAL Context ``.mat`` file."""
    data = scipy.io.loadmat(str(mat_path))
    if 'LabelMap' not in data:
        keys = sorted(k for k in data if not k.startswith('__'))
        raise KeyError(f'{mat_path} has no LabelMap variable (has {keys}).')
    return data['LabelMap']


def convert_one(image_id: str, *, mat_dir: Path, out_dir: Path, overwrite: bool) -> str:
    """Convert ``<mat_dir>/<id>.mat`` to ``<out_dir>/<id>.png``; returns the write status."""
    mat_path = mat_dir / f'{image_id}.mat'
    labels = pc459_labels(read_label_map(mat_path), source=str(mat_path))
    return write_label(out_dir / f'{image_id}.png', labels, overwrite=overwrite)


def check_labels_file(labels_file: Path) -> None:
    """Check a PASCAL Context ``labels.txt`` ("<k>: <name>" lines) against ``PC459_CLASSES``.

    Raises:
        ValueError: A line cannot be parsed, or the names or their order differ.
    """
    names = {}
    for line in labels_file.read_text().splitlines():
        if not line.strip():
            continue
        index, sep, name = line.partition(':')
        if not sep or not index.strip().isdigit():
            raise ValueError(f'{labels_file}: cannot parse the line {line!r} (expected "k: name").')
        names[int(index)] = name.strip()
    found = [names.get(k) for k in range(1, len(PC459_CLASSES) + 1)]
    diffs = [(k, f, c) for k, (f, c) in enumerate(zip(found, PC459_CLASSES), start=1) if f != c]
    if diffs or len(names) != len(PC459_CLASSES):
        raise ValueError(
            f'{labels_file} does not match the PC-459 class list ({len(names)} names; '
            f'first differences (k, file, ours): {diffs[:5]}); the label ids would be wrong.'
        )


def read_ids(split_file: Path) -> list[str]:
    return [line.strip() for line in split_file.read_text().splitlines() if line.strip()]


def convert_pascal_context_459(
    voc_root: str | Path,
    *,
    mat_dir: str | Path | None = None,
    split_file: str | Path | None = None,
    out_dir: str | Path | None = None,
    out_split_file: str | Path | None = None,
    labels_file: str | Path | None = None,
    nproc: int = 1,
    overwrite: bool = False,
    skip_missing: bool = False,
) -> list[str]:
    """Convert the PASCAL Context full val annotations to PC-459 label maps.

    Args:
        voc_root: The ``VOCdevkit/VOC2010`` directory.
        mat_dir: Directory of the ``.mat`` files (default ``<voc_root>/trainval``).
        split_file: Ids to convert (default: the first existing of ``DEFAULT_SPLIT_FILES``).
        out_dir: Label output directory (default ``<voc_root>/SegmentationClassContext459``).
        out_split_file: List of converted ids (default
            ``<voc_root>/ImageSets/SegmentationContext459/val.txt``).
        labels_file: The release's ``labels.txt`` to check the class order against (default:
            ``labels.txt`` in ``voc_root`` or ``mat_dir`` if present).
        nproc: Worker processes.
        overwrite: Replace existing outputs that differ (else such a file is an error).
        skip_missing: Skip ids without a ``.mat`` file (else that is an error).

    Returns:
        list[str]: The converted ids.
    """
    voc_root = Path(voc_root)
    mat_dir = Path(mat_dir) if mat_dir else voc_root / 'trainval'
    out_dir = Path(out_dir) if out_dir else voc_root / 'SegmentationClassContext459'
    if out_split_file is None:
        out_split_file = voc_root / 'ImageSets' / 'SegmentationContext459' / 'val.txt'
    if split_file is None:
        found = [voc_root / f for f in DEFAULT_SPLIT_FILES if (voc_root / f).is_file()]
        if not found:
            raise FileNotFoundError(
                f'No split file under {voc_root} (looked for {DEFAULT_SPLIT_FILES}); pass one.'
            )
        split_file = found[0]
    if not mat_dir.is_dir():
        raise FileNotFoundError(
            f'{mat_dir} not found: unpack the PASCAL Context trainval.tar.gz (.mat files) there.'
        )
    if labels_file is None:
        labels_file = next(
            (p for p in (voc_root / 'labels.txt', mat_dir / 'labels.txt') if p.is_file()), None
        )
    if labels_file is not None:
        check_labels_file(Path(labels_file))
    ids = read_ids(Path(split_file))
    missing = [i for i in ids if not (mat_dir / f'{i}.mat').is_file()]
    if missing and not skip_missing:
        raise FileNotFoundError(
            f'{len(missing)} of {len(ids)} ids of {split_file} have no .mat in {mat_dir} '
            f'(first: {missing[:3]}); pass --skip-missing to convert the others.'
        )
    ids = [i for i in ids if i not in set(missing)]
    func = functools.partial(convert_one, mat_dir=mat_dir, out_dir=out_dir, overwrite=overwrite)
    results = run_parallel(func, ids, nproc=nproc, desc='PASCAL Context-459')
    write_lines(out_split_file, ids, overwrite=overwrite)
    print(f'{len(ids)} label maps: {summarise(results)}; list: {out_split_file}')
    return ids
