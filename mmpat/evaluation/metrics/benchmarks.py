"""The zero-shot benchmarks: their short names and how their published mIoU is averaged.

One table answers two questions for every tool and test:

- which benchmark a config evaluates (:func:`benchmark_name`, from the test dataset type, and
  for the datasets that also carry a seen/unseen split, from the training vocabulary);
- which averaging mode of :class:`~mmpat.evaluation.metrics.OpenVocabIoUMetric` the published
  numbers of that benchmark use (:data:`BENCHMARK_AVERAGE`).

The rule: a benchmark takes the mode of the tables we compare against. The open-vocabulary
leaderboard (CAT-Seg, SAN, SED, FC-CLIP, EBSeg, MAFT+, ODISE: A-847, PC-459, A-150, PC-59,
VOC-20) is evaluated with detectron2's ``SemSegEvaluator``, which averages over the classes with
ground-truth pixels (``'present'``). The GroupViT protocol (VOC-21, Context-60, COCO-Object), the
seen/unseen zero-shot protocol of MaskCLIP+ and MVP-SEG, COCO-Stuff (SAN's mmseg numbers, the
training-free dense-CLIP papers) and our generated scenes use mmseg's ``IoUMetric``
(``'all'``). ``docs/zero_shot_datasets.md`` shows the same table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AVERAGE_MODES = ('all', 'present')

_AVERAGE_DESCRIPTIONS = {
    'all': "mmseg's rule: every class with a non-empty union; predicted but absent classes count 0",
    'present': "detectron2's rule: only classes with ground-truth pixels in the split",
}

#: Benchmark short name -> averaging mode of its published numbers (see the module docstring).
BENCHMARK_AVERAGE: dict[str, str] = {
    'A-847': 'present',
    'PC-459': 'present',
    'A-150': 'present',
    'PC-59': 'present',
    'VOC-20': 'present',
    'VOC-21': 'all',
    'Context-60': 'all',
    'COCO-Object': 'all',
    'COCO-Stuff': 'all',
    # Trained on the seen classes of the same dataset, scored on all (MaskCLIP+ / MVP-SEG).
    'VOC-20 15/5': 'all',
    'PC-59 49/10': 'all',
    'Context-60 50/10': 'all',
    'COCO-Stuff 156/15': 'all',
    # The generated scenes (ScenesDataset levels 'class', 'colour', 'shape').
    'scenes': 'all',
    'scenes-colour': 'all',
    'scenes-shape': 'all',
}

#: Benchmarks whose results are read as seen / unseen / hIoU (the others: mIoU only).
SPLIT_BENCHMARKS = frozenset(
    {'VOC-20 15/5', 'PC-59 49/10', 'Context-60 50/10', 'COCO-Stuff 156/15', 'scenes'}
)

#: Test dataset type -> benchmark short name.
DATASET_BENCHMARKS: dict[str, str] = {
    'ADE20K847Dataset': 'A-847',
    'PascalContext459Dataset': 'PC-459',
    'ADE20K150Dataset': 'A-150',
    'PascalContext59Dataset': 'PC-59',
    'PascalVOC20Dataset': 'VOC-20',
    'PascalVOC21Dataset': 'VOC-21',
    'PascalContext60Dataset': 'Context-60',
    'COCOObjectDataset': 'COCO-Object',
    'COCOStuff171Dataset': 'COCO-Stuff',
    'ScenesDataset': 'scenes',
}

#: Test dataset type -> benchmark name when the config trains on the seen classes of the same
#: dataset (``vocabulary='seen'`` or ``unlabelled_unseen=True``): the zero-shot split protocol,
#: named by its seen/unseen class counts (``UNSEEN_CLASSES`` of mmpat.datasets.class_names).
ZERO_SHOT_SPLIT_BENCHMARKS: dict[str, str] = {
    'PascalVOC20Dataset': 'VOC-20 15/5',
    'PascalContext59Dataset': 'PC-59 49/10',
    'PascalContext60Dataset': 'Context-60 50/10',
    'COCOStuff171Dataset': 'COCO-Stuff 156/15',
}


def describe_average(average: str) -> str:
    """One line saying which classes a mean of ``average`` mode runs over."""
    return _AVERAGE_DESCRIPTIONS[average]


def _leaf_datasets(dataset: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The datasets inside ``ConcatDataset`` / ``RepeatDataset`` wrappers (or the dataset)."""
    if not dataset:
        return []
    if 'datasets' in dataset:
        return [leaf for part in dataset['datasets'] for leaf in _leaf_datasets(part)]
    if 'dataset' in dataset:
        return _leaf_datasets(dataset['dataset'])
    return [dataset]


def _trains_on_seen_split(dataset_type: str, train_dataset: Mapping[str, Any] | None) -> bool:
    return any(
        leaf.get('type') == dataset_type
        and (leaf.get('vocabulary', 'all') == 'seen' or bool(leaf.get('unlabelled_unseen')))
        for leaf in _leaf_datasets(train_dataset)
    )


def benchmark_name(
    test_dataset: Mapping[str, Any], train_dataset: Mapping[str, Any] | None = None
) -> str:
    """The short benchmark name of a config's test dataset.

    Args:
        test_dataset: The ``test_dataloader.dataset`` config (``type``, and ``level`` for
            ``ScenesDataset``).
        train_dataset: The ``train_dataloader.dataset`` config, if any: training on the seen
            classes of the test dataset type makes it the zero-shot split benchmark (e.g.
            ``'VOC-20 15/5'`` instead of ``'VOC-20'``).

    Returns:
        str: A key of :data:`BENCHMARK_AVERAGE`, or the dataset type itself for a dataset
        outside the table (custom data).
    """
    leaves = _leaf_datasets(test_dataset)
    dataset_type = str(leaves[0].get('type')) if leaves else 'unknown'
    if dataset_type == 'ScenesDataset':
        level = leaves[0].get('level', 'class')
        return 'scenes' if level == 'class' else f'scenes-{level}'
    if dataset_type in ZERO_SHOT_SPLIT_BENCHMARKS and _trains_on_seen_split(
        dataset_type, train_dataset
    ):
        return ZERO_SHOT_SPLIT_BENCHMARKS[dataset_type]
    return DATASET_BENCHMARKS.get(dataset_type, dataset_type)


def config_benchmark(cfg: Mapping[str, Any]) -> str | None:
    """:func:`benchmark_name` of a whole config (None: the config has no test dataset)."""
    test_loader = cfg.get('test_dataloader')
    if not test_loader or not test_loader.get('dataset'):
        return None
    train_loader = cfg.get('train_dataloader') or {}
    return benchmark_name(test_loader['dataset'], train_loader.get('dataset'))
