"""Noun swaps: copies of a noun phrase with its head noun replaced (hard negatives of the
noun-swap loss, :class:`NounSwapMILLoss`)."""

from __future__ import annotations

import random
from collections.abc import Sequence

# Nouns that name any object: as a swap they would be a false negative ("a red object" for a
# red circle), and a phrase with one cannot be swapped (any other noun may be true).
GENERIC_NOUNS = frozenset(
    'object objects thing things item items shape shapes stuff something figure figures'.split()
)


def head_noun(phrase: str) -> str:
    """Last word of a noun phrase ("big red circle" -> "circle")."""
    return phrase.split()[-1]


def noun_swaps(
    phrase: str,
    vocabulary: Sequence[str],
    exclude: Sequence[str],
    num_swaps: int,
    rng: random.Random | None = None,
) -> list[str]:
    """Copies of a noun phrase with its head noun replaced by other nouns (hard negatives).

    Args:
        phrase (str): Noun phrase ("red circle"); its adjectives are kept.
        vocabulary (Sequence[str]): Candidate head nouns (e.g. those of the batch's captions).
        exclude (Sequence[str]): Head nouns never used (those of the same caption, which may
            be true of the image).
        num_swaps (int): At most this many swaps, sampled without replacement.
        rng (random.Random, optional): Random source (default: the module's).

    Returns:
        list[str]: Swapped phrases (empty when the head noun is generic, see
        ``GENERIC_NOUNS``, or no candidate is left).
    """
    rng = rng or random
    head = head_noun(phrase)
    if head in GENERIC_NOUNS:
        return []
    banned = set(exclude) | {head} | GENERIC_NOUNS
    candidates = sorted({noun for noun in vocabulary if noun not in banned})
    chosen = rng.sample(candidates, k=min(num_swaps, len(candidates)))
    prefix = phrase[: len(phrase) - len(head)]
    return [prefix + noun for noun in chosen]
