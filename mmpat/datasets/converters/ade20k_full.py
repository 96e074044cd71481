"""ADE20K full release -> A-847 16-bit label maps (ids 0..846, ignore 65535).

Input layout (the ``ADE20K_2021_17_01`` release, as unpacked)::

    ADE20K_2021_17_01/
        index_ade20k.pkl                 # dict with 'folder' and 'filename' lists (optional)
        images/ADE/training/<scene...>/ADE_train_00000001.jpg
        images/ADE/training/<scene...>/ADE_train_00000001_seg.png
        images/ADE/validation/<scene...>/ADE_val_00000001.jpg (+ _seg.png)

Each ``*_seg.png`` encodes the object class of a pixel as ``R // 10 * 256 + G`` (B holds the
instance). That value is the ADE object id of ``ADE847_ADE_IDS``; the i-th id becomes label i,
every other id (and 0, unlabelled) 65535. When ``index_ade20k.pkl`` is present, its
``objectnames`` (class value ``v`` is ``objectnames[v - 1]``; 0 is unlabelled) are checked against
the table's names first: a release with another numbering is refused rather than mislabelled.
The split is read from the file name
(``ADE_val_*`` -> validation). Like the common preparation (MaskFormer, reused by SAN / CAT-Seg),
an image whose shorter side exceeds ``max_short_side`` (512) is resized to it (image bilinear,
label nearest) and re-saved as JPEG (PIL quality 75).

Output layout (``out_dir``)::

    images/{training,validation}/ADE_*.jpg
    annotations/{training,validation}/ADE_*.png     # uint16
"""

from __future__ import annotations

import functools
import pickle
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..class_names import ADE847_ADE_IDS, ADE847_CANONICAL_NAMES
from .common import run_parallel, summarise, write_image, write_label

IGNORE = 65535
SPLITS = ('training', 'validation')


def ade_class_mask(seg_rgb: np.ndarray) -> np.ndarray:
    """Object class ids of an ADE20K ``*_seg.png`` (RGB uint8 [H, W, 3]) -> int32 [H, W]."""
    if seg_rgb.ndim != 3 or seg_rgb.shape[2] < 3:
        raise ValueError(f'ADE20K _seg.png must be RGB, got shape {seg_rgb.shape}')
    r = seg_rgb[..., 0].astype(np.int32)
    g = seg_rgb[..., 1].astype(np.int32)
    return r // 10 * 256 + g


def _lookup_table() -> np.ndarray:
    ids = np.asarray(ADE847_ADE_IDS, dtype=np.int64)
    lut = np.full(int(ids.max()) + 1, IGNORE, dtype=np.uint16)
    lut[ids] = np.arange(len(ids), dtype=np.uint16)
    return lut


_LUT = _lookup_table()


def ade_to_847(class_mask: np.ndarray) -> np.ndarray:
    """ADE object ids [H, W] -> A-847 labels uint16 [H, W] (unknown ids -> 65535)."""
    out = np.full(class_mask.shape, IGNORE, dtype=np.uint16)
    known = (class_mask >= 0) & (class_mask < len(_LUT))
    out[known] = _LUT[class_mask[known]]
    return out


def resized_shape(height: int, width: int, max_short_side: int) -> tuple[int, int] | None:
    """New (h, w) when the shorter side exceeds ``max_short_side`` (else None)."""
    if max_short_side <= 0 or min(height, width) <= max_short_side:
        return None
    if width >= height:
        return max_short_side, round(width / height * max_short_side)
    return round(height / width * max_short_side), max_short_side


def split_of(filename: str) -> str:
    """'validation' for ``ADE_val_*`` files, 'training' otherwise ('ADE_train_*', 'ADE_frame_*')."""
    parts = Path(filename).name.split('_')
    return 'validation' if len(parts) > 1 and parts[1] == 'val' else 'training'


def check_object_names(object_names: list[str], *, tolerance: float = 0.5) -> list[tuple]:
    """Compare the release's ``objectnames`` with the A-847 table (value ``v`` -> ``[v - 1]``).

    Args:
        object_names: ``index_ade20k['objectnames']``.
        tolerance: Largest fraction of differing names accepted (with a warning).

    Returns:
        list[tuple]: ``(ade_id, release name, table name)`` of the differing classes.

    Raises:
        ValueError: More than ``tolerance`` of the 847 names differ (another numbering).
    """
    diffs = []
    for ade_id, name in zip(ADE847_ADE_IDS, ADE847_CANONICAL_NAMES):
        found = object_names[ade_id - 1] if ade_id - 1 < len(object_names) else None
        if found is None or str(found).strip() != name:
            diffs.append((ade_id, found, name))
    if len(diffs) > tolerance * len(ADE847_ADE_IDS):
        raise ValueError(
            f'index_ade20k.pkl object names do not fit the A-847 ids ({len(diffs)} of 847 differ, '
            f'e.g. {diffs[:3]}): is this the ADE20K_2021_17_01 release? (--no-name-check skips)'
        )
    if diffs:
        message = f'{len(diffs)} A-847 class names differ in index_ade20k.pkl: {diffs[:5]}'
        warnings.warn(message, stacklevel=2)
    return diffs


def list_images(src: Path, *, check_names: bool = True) -> list[Path]:
    """The ``.jpg`` images of the release: from ``index_ade20k.pkl`` if present, else a scan."""
    index_file = src / 'index_ade20k.pkl'
    if index_file.is_file():
        with open(index_file, 'rb') as f:
            index = pickle.load(f)
        if check_names and 'objectnames' in index:
            check_object_names(list(index['objectnames']))
        paths = []
        for folder, name in zip(index['folder'], index['filename']):
            folder = Path(folder)
            # 'folder' entries start with the release directory name: resolve from its parent.
            candidates = [src.parent / folder / name, src / Path(*folder.parts[1:]) / name]
            found = next((p for p in candidates if p.is_file()), None)
            if found is None:
                raise FileNotFoundError(
                    f'index_ade20k.pkl lists {folder / name}, not found under {src.parent} '
                    f'(tried {[str(c) for c in candidates]}).'
                )
            paths.append(found)
        return paths
    images = sorted((src / 'images').rglob('*.jpg'))
    if not images:
        raise FileNotFoundError(f'No index_ade20k.pkl and no images/**/*.jpg under {src}.')
    return images


def convert_one(
    image_path: Path, *, out_dir: Path, max_short_side: int, overwrite: bool, label_suffix: str
) -> str:
    """Convert one image and its ``_seg.png``; returns the label write status."""
    seg_path = image_path.with_name(image_path.stem + '_seg.png')
    if not seg_path.is_file():
        raise FileNotFoundError(f'Missing ADE20K annotation {seg_path} for {image_path}.')
    with Image.open(image_path) as im:
        image = np.asarray(im if im.mode in ('L', 'RGB') else im.convert('RGB'))
    with Image.open(seg_path) as im:
        class_mask = ade_class_mask(np.asarray(im.convert('RGB')))
    if class_mask.shape != image.shape[:2]:
        raise ValueError(f'{seg_path} has size {class_mask.shape}, image {image.shape[:2]}.')
    new = resized_shape(*class_mask.shape, max_short_side)
    if new is not None:
        h, w = new
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
        class_mask = cv2.resize(class_mask, (w, h), interpolation=cv2.INTER_NEAREST)
    split = split_of(image_path.name)
    write_image(out_dir / 'images' / split / image_path.name, image, overwrite=overwrite)
    label_path = out_dir / 'annotations' / split / (image_path.stem + label_suffix)
    return write_label(label_path, ade_to_847(class_mask), overwrite=overwrite)


def convert_ade20k_full(
    src: str | Path,
    out_dir: str | Path,
    *,
    splits: tuple[str, ...] = ('validation',),
    max_short_side: int = 512,
    nproc: int = 1,
    overwrite: bool = False,
    label_suffix: str = '.png',
    check_names: bool = True,
) -> dict[str, list[str]]:
    """Convert the ADE20K full release to A-847 label maps.

    Args:
        src: The ``ADE20K_2021_17_01`` directory.
        out_dir: Output root (``images/<split>``, ``annotations/<split>``).
        splits: Which of 'training', 'validation' to convert.
        max_short_side: Resize images whose shorter side is larger to this (0: never).
        nproc: Worker processes.
        overwrite: Replace existing outputs that differ (else such a file is an error).
        label_suffix: '.png' (default) or '.tif' (16-bit either way).
        check_names: Check ``index_ade20k.pkl`` object names against the A-847 table.

    Returns:
        dict[str, list[str]]: Per split, the write status of each label map.
    """
    src, out_dir = Path(src), Path(out_dir)
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f'Unknown splits {sorted(unknown)}; choose from {SPLITS}.')
    images = [p for p in list_images(src, check_names=check_names) if split_of(p.name) in splits]
    results: dict[str, list[str]] = {}
    for split in splits:
        todo = [p for p in images if split_of(p.name) == split]
        func = functools.partial(
            convert_one,
            out_dir=out_dir,
            max_short_side=max_short_side,
            overwrite=overwrite,
            label_suffix=label_suffix,
        )
        results[split] = run_parallel(func, todo, nproc=nproc, desc=f'ADE20K-847 {split}')
        print(f'{split}: {len(todo)} images, labels {summarise(results[split])}')
    return results
