"""Helpers shared by the dataset converters: safe writes and a parallel progress loop."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

WRITTEN, UNCHANGED = 'written', 'unchanged'


class OutputExistsError(FileExistsError):
    """An output file exists with different content and overwriting was not asked for."""


def _encode(image: Image.Image, suffix: str, **save_kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=Image.registered_extensions()[suffix.lower()], **save_kwargs)
    return buffer.getvalue()


def write_label(path: str | Path, label: np.ndarray, *, overwrite: bool = False) -> str:
    """Write a label map (uint8 or uint16 PNG / TIFF), refusing to replace different content.

    An existing file whose decoded values equal ``label`` is left alone (re-runs are cheap and
    idempotent); one with other values raises unless ``overwrite``.

    Args:
        path: Output path ('.png' or '.tif').
        label: Label map [H, W], uint8 or uint16.
        overwrite: Replace an existing file with different content.

    Returns:
        str: 'written' or 'unchanged'.

    Raises:
        OutputExistsError: The file exists with other values and ``overwrite`` is False.
    """
    path = Path(path)
    if label.dtype not in (np.uint8, np.uint16) or label.ndim != 2:
        raise ValueError(
            f'{path}: label maps must be 2-D uint8/uint16, got {label.dtype} {label.shape}'
        )
    if path.exists():
        with Image.open(path) as old:
            same = np.array_equal(np.asarray(old), label)
        if same:
            return UNCHANGED
        if not overwrite:
            raise OutputExistsError(
                f'{path} exists with different labels; remove it or pass --overwrite.'
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(label).save(path)
    return WRITTEN


def write_image(
    path: str | Path, image: np.ndarray, *, overwrite: bool = False, quality: int = 75
) -> str:
    """Write an RGB / gray uint8 image (JPEG ``quality``), refusing to replace other bytes.

    Returns:
        str: 'written' or 'unchanged'.

    Raises:
        OutputExistsError: The file exists with other bytes and ``overwrite`` is False.
    """
    path = Path(path)
    kwargs = {'quality': quality} if path.suffix.lower() in ('.jpg', '.jpeg') else {}
    data = _encode(Image.fromarray(image), path.suffix, **kwargs)
    if path.exists():
        if path.read_bytes() == data:
            return UNCHANGED
        if not overwrite:
            raise OutputExistsError(
                f'{path} exists with other content; remove it or pass --overwrite.'
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return WRITTEN


def write_lines(path: str | Path, lines: Sequence[str], *, overwrite: bool = False) -> str:
    """Write a text list (one entry a line), refusing to replace a different list."""
    path = Path(path)
    text = ''.join(f'{line}\n' for line in lines)
    if path.exists():
        if path.read_text() == text:
            return UNCHANGED
        if not overwrite:
            raise OutputExistsError(
                f'{path} exists with another list; remove it or pass --overwrite.'
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return WRITTEN


def run_parallel(
    func: Callable[[Any], Any], items: Iterable[Any], *, nproc: int = 1, desc: str = ''
) -> list[Any]:
    """Apply ``func`` to every item with a tqdm progress bar, in ``nproc`` processes.

    ``func`` must be picklable (a module-level function or a ``functools.partial`` of one).
    """
    items = list(items)
    if nproc <= 1:
        return [func(item) for item in tqdm(items, desc=desc, unit='img')]
    with Pool(nproc) as pool:
        return list(
            tqdm(pool.imap(func, items, chunksize=4), total=len(items), desc=desc, unit='img')
        )


def summarise(results: Sequence[str]) -> str:
    """'12 written, 3 unchanged' from per-item results."""
    written = sum(r == WRITTEN for r in results)
    return f'{written} written, {sum(r == UNCHANGED for r in results)} unchanged'
