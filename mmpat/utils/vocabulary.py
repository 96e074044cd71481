"""Parsing and checking user vocabularies ("cat; dog, puppy; sky"): the one parser of mmpat.

- :func:`parse_vocabulary`: the entries as the user gave them (what segmentors record as
  class names and synonyms);
- :func:`synonym_tuples`: the same vocabulary as one tuple of synonyms per class (what the text
  encoders encode, and the key of their embedding cache).
"""

from __future__ import annotations

import colorsys
from collections import Counter
from collections.abc import Sequence


def _synonyms(entry: str | Sequence[str]) -> list[str]:
    """The stripped, non-empty synonyms of one entry ("dog, puppy" or ["dog", "puppy"])."""
    parts = entry.split(',') if isinstance(entry, str) else entry
    return [s.strip() for s in parts if s.strip()]


def parse_vocabulary(vocabulary: str | Sequence[str | Sequence[str]]) -> list[str | list[str]]:
    """Normalise a vocabulary to a list with one entry per class.

    Args:
        vocabulary: Either one string with classes separated by ';' (synonyms of a class by
            ','), or a sequence whose entries are a name, a "name, synonym" string, or a list
            of synonyms.

    Returns:
        list: One entry per class: a stripped string, or a list of stripped synonyms.

    Raises:
        ValueError: The vocabulary is empty, has an empty class, or two classes have the same
            first name in any case ("Cat; cat"); synonyms shared by classes are allowed.
        TypeError: An entry that is neither a string nor a sequence of strings.
    """
    if isinstance(vocabulary, str):
        vocabulary = vocabulary.split(';')
    entries: list[str | list[str]] = []
    for index, entry in enumerate(vocabulary):
        if isinstance(entry, str):
            entry = entry.strip()
            if not entry:
                raise ValueError(f'Vocabulary entry {index} is empty.')
            if not _synonyms(entry):
                raise ValueError(f'Vocabulary entry {index} ({entry!r}) has no names.')
            entries.append(entry)
        elif isinstance(entry, Sequence) and all(isinstance(s, str) for s in entry):
            synonyms = _synonyms(entry)
            if not synonyms:
                raise ValueError(f'Vocabulary entry {index} has no names.')
            entries.append(synonyms)
        else:
            raise TypeError(
                f'class {index} is {entry!r}: give a string or a list of synonym strings'
            )
    if not entries:
        raise ValueError('The vocabulary is empty: give at least one class name.')
    # First names compared case-insensitively ("Cat; cat"). A first name may be a synonym of
    # another class: real vocabularies (ADE-847: 'bag', 'dog', ...) have that.
    firsts = Counter(primary_name(e).lower() for e in entries)
    duplicates = sorted(name for name, count in firsts.items() if count > 1)
    if duplicates:
        raise ValueError(
            f'Duplicate class names in the vocabulary (case-insensitive): {duplicates}'
        )
    return entries


def synonym_tuples(vocabulary: str | Sequence[str | Sequence[str]]) -> list[tuple[str, ...]]:
    """A vocabulary as one tuple of synonyms per class (``'dog, puppy'`` -> ``('dog', 'puppy')``).

    Same input and checks as :func:`parse_vocabulary` (whose errors it raises); the form the
    text encoders encode (per synonym, then averaged per class) and key their cache with.

    Returns:
        list[tuple[str, ...]]: One tuple of stripped, non-empty synonyms per class.
    """
    return [tuple(_synonyms(entry)) for entry in parse_vocabulary(vocabulary)]


def primary_name(entry: str | Sequence[str]) -> str:
    """The display name of a vocabulary entry (its first synonym)."""
    if isinstance(entry, str):
        names = _synonyms(entry)
        return names[0] if names else ''
    return entry[0]


def class_palette(num_classes: int) -> list[tuple[int, int, int]]:
    """A deterministic palette of well-separated colours (golden-ratio hues)."""
    colours = []
    for index in range(num_classes):
        hue = (index * 0.618033988749895) % 1.0
        saturation = 0.65 + 0.35 * ((index // 7) % 2)
        r, g, b = colorsys.hsv_to_rgb(hue, saturation, 0.95)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours
