"""Readable synonyms for dataset names that glue or hyphenate words ('pottedplant',
'building-other'), which CLIP-style text encoders read poorly.

Our choice (not a released list): :func:`with_readable_synonyms` keeps the dataset's name first
(so datasets and metrics still match the class) and appends the spelled-out form, e.g.
'tvmonitor' -> 'tvmonitor, tv monitor', 'building-other' -> 'building-other, building',
'wall-brick' -> 'wall-brick, brick wall'. Pass the result as ``metainfo=dict(classes=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence

# Glued VOC / PASCAL Context names and a few COCO-Stuff names the general rule gets wrong.
_READABLE = {
    'aeroplane': 'airplane',
    'bedclothes': 'bed clothes',
    'diningtable': 'dining table',
    'motorbike': 'motorcycle',
    'pottedplant': 'potted plant',
    'tvmonitor': 'tv monitor',
    'playingfield': 'playing field',
    'waterdrops': 'water drops',
    'window-blind': 'window blind',
    'sky-other': 'sky',
    'tv': 'television',
}


def readable_name(name: str) -> str | None:
    """The spelled-out form of a dataset class name, or None if it reads well already."""
    if name in _READABLE:
        return _READABLE[name]
    if '-' in name:
        head, tail = name.split('-', 1)
        if tail in ('other', 'stuff'):
            return head
        return f'{tail} {head}'  # 'wall-brick' -> 'brick wall', 'floor-wood' -> 'wood floor'
    return None


def with_readable_synonyms(classes: Sequence[str]) -> tuple[str, ...]:
    """Append the readable form as a synonym where it differs ("name, readable name")."""
    out = []
    for name in classes:
        readable = readable_name(name)
        out.append(f'{name}, {readable}' if readable and readable != name else name)
    return tuple(out)
