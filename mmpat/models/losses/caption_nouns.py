"""Dependency-free noun extraction from captions, and GroupViT's multi-label prompts.

The reference code uses a POS tagger; mmpat needs no downloads, so this is a small built-in
heuristic (our choice, documented and tested):

1. lower-case, split into alphabetic words (apostrophes and digits dropped);
2. drop closed-class words (articles, pronouns, prepositions, conjunctions, auxiliaries,
   determiners, numerals), a list of frequent verbs and adjectives (colours, sizes, ...),
   words ending in ``-ly`` and words shorter than 3 letters;
3. drop a word ending in ``-ing``/``-ed`` unless it directly follows an article/determiner
   ("a building" is kept, "dogs playing" is not);
4. keep the rest in caption order, without duplicates;
5. optionally (``with_adjectives=True``, our option for captions whose classes are
   attribute-noun compositions such as the generated scenes' "red circle") keep the run of
   listed adjectives directly before each noun, so the prompt is a noun phrase.

Captions with no noun left fall back to the whole caption (so every image gets a prompt).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

_ARTICLES = frozenset(
    'a an the this that these those my your his her its our their some any each every'.split()
)
_CLOSED = frozenset(
    """
    a an the this that these those my your his her its our their some any each every no
    i me you he she it we they them us him what which who whom whose where when why how
    there here then than so as such very too also just only not nor or and but if because
    while with without within into onto upon over under above below near next beside
    between behind beyond across along around among against toward towards through
    during before after since until of in on at by for from to up down off out about
    is are was were be been being am do does did doing done have has had having will
    would can could shall should may might must let lets
    one two three four five six seven eight nine ten many much more most few several
    lot lots other another same all both either neither own
    photo picture image shot view close closeup
    """.split()
)
_VERBS = frozenset(
    """
    sit sits sitting sat stand stands standing stood lie lies lying lay walk walks walking
    walked run runs running ran play plays playing played look looks looking looked hold
    holds holding held ride rides riding rode eat eats eating ate fly flies flying flew
    take takes taking took make makes making made go goes going went come comes coming
    came get gets getting got show shows showing shown wear wears wearing wore use uses
    using used see sees seeing saw seen watching parked wait waits
    waiting pose poses posing coloured colored painted filled shaped covered
    """.split()
)
_ADJECTIVES = frozenset(
    """
    red green blue yellow purple white black orange pink brown gray grey golden silver
    dark light bright colorful colourful big small large little tiny huge tall short long
    wide narrow old new young good bad great nice beautiful pretty happy empty full open
    closed clean dirty hot cold wet dry round square-shaped flat high low front back left
    right top bottom middle single double various different same several
    """.split()
)


def extract_nouns(caption: str, with_adjectives: bool = False) -> list[str]:
    """Nouns of a caption by the heuristic in the module docstring.

    Args:
        caption (str): A caption.
        with_adjectives (bool): Keep the adjectives directly before each noun
            ("a big red circle" -> "big red circle" instead of "circle").

    Returns:
        list[str]: Candidate nouns in caption order, without duplicates (may be empty).
    """
    words = re.findall(r'[a-z]+(?:-[a-z]+)*', caption.lower())
    nouns: list[str] = []
    for index, word in enumerate(words):
        if len(word) < 3 or word in _CLOSED or word in _VERBS or word in _ADJECTIVES:
            continue
        if word.endswith('ly'):
            continue
        if word.endswith(('ing', 'ed')) and (index == 0 or words[index - 1] not in _ARTICLES):
            continue
        if with_adjectives:
            start = index
            while start > 0 and words[start - 1] in _ADJECTIVES:
                start -= 1
            word = ' '.join(words[start : index + 1])
        if word not in nouns:
            nouns.append(word)
    return nouns


def sample_noun_phrases(
    caption: str,
    num_prompts: int,
    templates: Sequence[str],
    rng: random.Random | None = None,
    with_adjectives: bool = False,
) -> list[tuple[str, str]]:
    """Up to K random (template, noun) pairs of a caption (fewer if it has fewer nouns).

    Args:
        caption (str): The caption.
        num_prompts (int): K.
        templates (Sequence[str]): Templates with one ``{}``.
        rng (random.Random, optional): Random source (default: the module's).
        with_adjectives (bool): Noun phrases with their leading adjectives (see
            :func:`extract_nouns`).

    Returns:
        list[tuple[str, str]]: ``(template, noun phrase)`` pairs.
    """
    rng = rng or random
    nouns = extract_nouns(caption, with_adjectives=with_adjectives)
    chosen = rng.sample(nouns, k=min(num_prompts, len(nouns)))
    return [(rng.choice(list(templates)), noun) for noun in chosen]


def multi_label_prompts(
    caption: str,
    num_prompts: int,
    templates: Sequence[str],
    rng: random.Random | None = None,
    with_adjectives: bool = False,
) -> list[str]:
    """K prompt texts for one caption: K random nouns in random templates, padded by the caption.

    Args:
        caption (str): The caption.
        num_prompts (int): K.
        templates (Sequence[str]): Templates with one ``{}`` (ImageNet templates by default in
            the loss).
        rng (random.Random, optional): Random source (default: the module's).
        with_adjectives (bool): Noun phrases with their leading adjectives (see
            :func:`extract_nouns`).

    Returns:
        list[str]: Exactly K texts. A caption without nouns gives K copies of itself.
    """
    pairs = sample_noun_phrases(caption, num_prompts, templates, rng, with_adjectives)
    prompts = [template.format(noun) for template, noun in pairs]
    return prompts + [caption] * (num_prompts - len(prompts))
