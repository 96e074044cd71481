"""Parsing vocabularies: class entries with synonyms, and their validation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def parse_vocabulary(class_names: Sequence[str | Sequence[str]]) -> list[tuple[str, ...]]:
    """Turn class entries into tuples of synonyms.

    A class is a string (``'dog, puppy'``: comma-separated synonyms) or a sequence of synonyms
    (``['dog', 'puppy']``).

    Args:
        class_names: The vocabulary.

    Returns:
        list[tuple[str, ...]]: One tuple of stripped, non-empty synonyms per class.

    Raises:
        ValueError: Empty vocabulary, a class without a name, or duplicate classes (named).
        TypeError: An entry that is neither a string nor a sequence of strings.
    """
    if isinstance(class_names, str):
        raise TypeError(
            f'the vocabulary must be a sequence of class names, got the string {class_names!r} '
            '(use a list, e.g. ["cat", "dog, puppy"])'
        )
    entries = list(class_names)
    if not entries:
        raise ValueError('empty vocabulary: give at least one class name')
    parsed = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            synonyms = entry.split(',')
        elif isinstance(entry, Sequence) and all(isinstance(s, str) for s in entry):
            synonyms = list(entry)
        else:
            raise TypeError(
                f'class {index} is {entry!r}: give a string or a list of synonym strings'
            )
        synonyms = tuple(s.strip() for s in synonyms if s.strip())
        if not synonyms:
            raise ValueError(f'class {index} ({entry!r}) has no name')
        parsed.append(synonyms)
    counts = Counter(parsed)
    duplicates = [', '.join(s) for s, n in counts.items() if n > 1]
    if duplicates:
        raise ValueError(f'duplicate class names in the vocabulary: {duplicates}')
    return parsed
