"""Shared behaviour of the zero-shot benchmark datasets (label maps, seen/unseen metainfo).

mmseg's ``BaseSegDataset.get_label_map`` compares class names literally and sends dropped classes
to 255. The zero-shot datasets relax both: a class given as "name, synonym" (or with other
synonyms) still matches its dataset class by its first name, and dropped classes go to the
dataset's own ``ignore_index`` (65535 for the 16-bit datasets, where 255 is a real class).

The datasets with a seen/unseen split (``unseen_classes`` metainfo) also build the zero-shot
training sets (``docs/methods/mvp_seg.md``), with the same meaning as ``ScenesDataset``'s arguments:

- ``vocabulary='seen'`` (inductive, e.g. MVP-SEG): the classes become the seen ones, the labels
  of the unseen classes go to ``ignore_index``; ``unseen_classes`` keeps the unseen names so
  ``VocabularyHook(inductive=True)`` can check the training vocabulary;
- ``unlabelled_unseen=True`` (transductive, e.g. MVP-SEG+): every class stays, the pixels of the
  unseen classes go to ``ignore_index`` (for ``PseudoLabelHook`` to label).
"""

from __future__ import annotations

from collections.abc import Sequence


def primary_name(name: str | Sequence[str]) -> str:
    """First synonym of a class entry ("dog, puppy" -> "dog"; ["dog", "puppy"] -> "dog")."""
    if isinstance(name, str):
        return name.split(',')[0].strip()
    return str(name[0]).strip()


def _as_key(name: str | Sequence[str]) -> str:
    return name if isinstance(name, str) else ', '.join(name)


def match_classes(old_classes: Sequence, new_classes: Sequence) -> list[int]:
    """For each new class, the index of the dataset class it names.

    A new entry matches an old one by its full string first, else by its first synonym when that
    is unique among the dataset classes.

    Raises:
        ValueError: A new class matches no dataset class, or matches several.
    """
    old_full = {_as_key(c): i for i, c in enumerate(old_classes)}
    by_primary: dict[str, list[int]] = {}
    for i, c in enumerate(old_classes):
        by_primary.setdefault(primary_name(c), []).append(i)
    indices = []
    for entry in new_classes:
        if _as_key(entry) in old_full:
            indices.append(old_full[_as_key(entry)])
            continue
        hits = by_primary.get(primary_name(entry), [])
        if len(hits) != 1:
            problem = 'is not a class' if not hits else f'is ambiguous ({len(hits)} classes)'
            raise ValueError(
                f'Class {entry!r} {problem} of this dataset; give one of its class names '
                '(full "name, synonym" strings disambiguate).'
            )
        indices.append(hits[0])
    if len(set(indices)) != len(indices):
        raise ValueError(f'Several of the given classes name the same dataset class: {new_classes}')
    return indices


def label_map_for(
    old_classes: Sequence | None, new_classes: Sequence | None, ignore_index: int
) -> dict[int, int] | None:
    """Dataset label -> new label (dropped classes -> ``ignore_index``); None if unchanged."""
    if old_classes is None or new_classes is None:
        return None
    if [primary_name(c) for c in old_classes] == [primary_name(c) for c in new_classes]:
        return None  # the same classes, maybe named with other synonyms
    indices = match_classes(old_classes, new_classes)
    new_of_old = {old: new for new, old in enumerate(indices)}
    return {old: new_of_old.get(old, ignore_index) for old in range(len(old_classes))}


VOCABULARIES = ('all', 'seen')


class ZeroShotDatasetMixin:
    """Mixin for ``BaseSegDataset`` subclasses (put it first in the bases).

    Adds synonym-aware class selection with dropped classes sent to ``ignore_index``, keeps
    ``seen_classes`` / ``unseen_classes`` metainfo (names) consistent with the selected classes,
    and builds the zero-shot training sets of the datasets with a split.

    Args:
        vocabulary (str): ``'all'`` (the selected classes) or ``'seen'``: the inductive training
            vocabulary, the seen classes among the selected ones, re-indexed; unseen labels
            become ``ignore_index``. ``unseen_classes`` metainfo keeps the unseen names (absent
            from ``classes``), ``seen_classes`` equals ``classes``. Needs a split.
        unlabelled_unseen (bool): The transductive setting: the vocabulary keeps every class,
            the pixels of the unseen classes become ``ignore_index``. Needs a split and
            ``vocabulary='all'``.
        lazy_init (bool): As in mmengine's ``BaseDataset``.
        *args, **kwargs: The dataset's arguments (``metainfo`` may set ``classes`` and
            ``unseen_classes``).

    Raises:
        ValueError: Unknown ``vocabulary``; ``vocabulary='seen'`` or ``unlabelled_unseen`` on
            a dataset without a seen/unseen split; both together; no seen class left.
    """

    METAINFO: dict = dict()

    @classmethod
    def get_label_map(cls, new_classes: Sequence | None = None) -> dict[int, int] | None:
        # Called by BaseSegDataset.__init__ (palette subset); the real map is set in __init__.
        return label_map_for(cls.METAINFO.get('classes'), new_classes, 255)

    def __init__(
        self,
        *args,
        vocabulary: str = 'all',
        unlabelled_unseen: bool = False,
        lazy_init: bool = False,
        **kwargs,
    ) -> None:
        name = type(self).__name__
        if vocabulary not in VOCABULARIES:
            raise ValueError(f"{name}: vocabulary must be 'all' or 'seen', got {vocabulary!r}")
        if vocabulary == 'seen' and unlabelled_unseen:
            raise ValueError(
                f"{name}: vocabulary='seen' (inductive: unseen classes left out) and "
                'unlabelled_unseen=True (transductive: every class kept, unseen pixels '
                'unlabelled) exclude each other; give one of them'
            )
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        split = metainfo.get('unseen_classes', self.METAINFO.get('unseen_classes'))
        if (vocabulary == 'seen' or unlabelled_unseen) and not split:
            argument = "vocabulary='seen'" if vocabulary == 'seen' else 'unlabelled_unseen=True'
            raise ValueError(
                f"{name}: {argument} needs a seen/unseen split ('unseen_classes' metainfo), "
                f'and {name} has none; the zero-shot splits are on PascalVOC20Dataset, '
                'PascalContext59Dataset, PascalContext60Dataset and COCOStuff171Dataset (or '
                'give metainfo=dict(unseen_classes=[...]))'
            )
        unseen_names: tuple | None = None
        if vocabulary == 'seen':
            classes = metainfo.get('classes', self.METAINFO.get('classes'))
            unseen_keys = {primary_name(c) for c in split}
            unseen_names = tuple(c for c in classes if primary_name(c) in unseen_keys)
            seen = tuple(c for c in classes if primary_name(c) not in unseen_keys)
            if not seen:
                raise ValueError(f"{name}: vocabulary='seen' leaves no class: all are unseen")
            metainfo['classes'] = seen
        super().__init__(*args, metainfo=metainfo or None, lazy_init=True, **kwargs)
        self.vocabulary = vocabulary
        self.unlabelled_unseen = unlabelled_unseen
        classes = self._metainfo.get('classes')
        self.label_map = label_map_for(self.METAINFO.get('classes'), classes, self.ignore_index)
        if 'unseen_classes' in self._metainfo and classes is not None:
            unseen = {primary_name(c) for c in self._metainfo['unseen_classes']}
            self._metainfo['unseen_classes'] = tuple(
                c for c in classes if primary_name(c) in unseen
            )
            self._metainfo['seen_classes'] = tuple(
                c for c in classes if primary_name(c) not in unseen
            )
        if unseen_names is not None:  # the unseen names stay, absent from the classes
            self._metainfo['unseen_classes'] = unseen_names
        if unlabelled_unseen:
            self.label_map = self._unlabel_unseen(self.label_map, classes)
        self._metainfo['label_map'] = self.label_map
        self._metainfo['ignore_index'] = self.ignore_index
        if not lazy_init:
            self.full_init()

    def _unlabel_unseen(self, label_map: dict[int, int] | None, classes: Sequence) -> dict:
        """``label_map`` (dataset label -> class index) with the unseen classes unlabelled."""
        unseen = {primary_name(c) for c in self._metainfo['unseen_classes']}
        unseen_ids = {i for i, c in enumerate(classes) if primary_name(c) in unseen}
        if label_map is None:
            label_map = {i: i for i in range(len(self.METAINFO['classes']))}
        return {
            old: self.ignore_index if new in unseen_ids else new for old, new in label_map.items()
        }
