"""The ``mmpat-results/1`` file that ``tools/test.py --results FILE`` writes after testing.

One JSON object per test run, read by ``tools/leaderboard.py`` (whose
:data:`~mmpat.evaluation.leaderboard.FORMATS` checks it before it is written)::

    {"format": "mmpat-results/1", "config": "<path as given>", "config_name": "<file stem>",
     "checkpoint": str | null, "dataset": "<test dataset type>", "data_root": str,
     "benchmark": "<short name, e.g. A-150>", "num_classes": int, "average": "all" | "present",
     "metrics": {"mIoU": f, "mIoU_seen": f | null, "mIoU_unseen": f | null, "hIoU": f | null,
                 "aAcc": f, "mAcc": f},
     "device": "cpu" | "cuda", "date": "<ISO date>"}

Metrics are percent as the metric returns them; NaN (and a key the metric does not return,
e.g. ``mIoU_seen`` of mmseg's plain ``IoUMetric``) is ``null``.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .leaderboard import validate
from .metrics.benchmarks import benchmark_name

FORMAT = 'mmpat-results/1'
METRIC_KEYS = ('mIoU', 'mIoU_seen', 'mIoU_unseen', 'hIoU', 'aAcc', 'mAcc')


def _leaf(dataset: Mapping[str, Any]) -> Mapping[str, Any]:
    while 'datasets' in dataset or 'dataset' in dataset:
        dataset = dataset['datasets'][0] if 'datasets' in dataset else dataset['dataset']
    return dataset


def _metric_value(metrics: Mapping[str, Any], key: str) -> float | None:
    """``metrics[key]``, also under an evaluator prefix (``'val/mIoU'``); NaN -> None."""
    for name, value in metrics.items():
        if name == key or name.endswith('/' + key):
            value = float(value)
            return None if math.isnan(value) else value
    return None


def averaging_mode(evaluator_metrics: Sequence[Any]) -> str:
    """The ``average`` of the test evaluator's IoU metric (mmseg's ``IoUMetric``: ``'all'``)."""
    for metric in evaluator_metrics:
        if hasattr(metric, 'average'):
            return str(metric.average)
    return 'all'


def results_record(
    *,
    config: str,
    checkpoint: str | None,
    test_dataset: Mapping[str, Any],
    train_dataset: Mapping[str, Any] | None,
    num_classes: int,
    average: str,
    metrics: Mapping[str, Any],
    device: str,
    date: datetime.date | None = None,
) -> dict[str, Any]:
    """Assemble the ``mmpat-results/1`` object of one test run.

    Args:
        config: The config path as given on the command line.
        checkpoint: The checkpoint path, or None (training-free models).
        test_dataset: ``cfg.test_dataloader.dataset``.
        train_dataset: ``cfg.train_dataloader.dataset`` before the test tool drops it (it tells
            a zero-shot split benchmark from the plain one), or None.
        num_classes: Classes of the evaluated vocabulary.
        average: The metric's averaging mode.
        metrics: What ``Runner.test()`` returned.
        device: ``'cpu'``, ``'cuda'``, ...
        date: The day of the run (default: today).

    Returns:
        dict: The record, JSON-serialisable.
    """
    leaf = _leaf(test_dataset)
    missing = [key for key in ('mIoU', 'aAcc', 'mAcc') if _metric_value(metrics, key) is None]
    if missing:
        raise ValueError(
            f'--results: the test evaluator returned no {missing} (got {sorted(metrics)}); '
            'it needs an IoU metric (OpenVocabIoUMetric or mmseg IoUMetric)'
        )
    return {
        'format': FORMAT,
        'config': config,
        'config_name': Path(config).stem,
        'checkpoint': checkpoint,
        'dataset': str(leaf.get('type')),
        'data_root': str(leaf.get('data_root', '')),
        'benchmark': benchmark_name(test_dataset, train_dataset),
        'num_classes': int(num_classes),
        'average': average,
        'metrics': {key: _metric_value(metrics, key) for key in METRIC_KEYS},
        'device': device,
        'date': (date or datetime.date.today()).isoformat(),
    }


def write_results(path: str | Path, record: Mapping[str, Any]) -> Path:
    """Check ``record`` against the leaderboard's format, then write it (folders created)."""
    validate(dict(record), f'{path} (about to be written)')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + '\n')
    return path
