"""Every shipped config scores its benchmark with the averaging mode of the benchmark's published
numbers (mmpat.evaluation.metrics.benchmarks.BENCHMARK_AVERAGE), and docs/zero_shot_datasets.md
shows the same table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mmengine.config import Config

from mmpat.evaluation.metrics.benchmarks import (
    AVERAGE_MODES,
    BENCHMARK_AVERAGE,
    DATASET_BENCHMARKS,
    SPLIT_BENCHMARKS,
    benchmark_name,
    config_benchmark,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(
    p
    for folder in [ROOT / 'configs', *sorted((ROOT / 'projects').glob('*/configs'))]
    for p in folder.rglob('*.py')
    if '_base_' not in p.parts
)
IDS = [str(p.relative_to(ROOT)) for p in CONFIGS]


def evaluators(cfg: Config) -> list[dict]:
    found = []
    for key in ('val_evaluator', 'test_evaluator'):
        value = cfg.get(key)
        for item in value if isinstance(value, list) else [value]:
            if item and item.get('type') == 'OpenVocabIoUMetric':
                found.append(item)
    return found


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_uses_its_benchmarks_mode(path):
    cfg = Config.fromfile(str(path))
    chosen = evaluators(cfg)
    if not chosen:
        pytest.skip('no OpenVocabIoUMetric evaluator')
    benchmark = config_benchmark(cfg)
    assert benchmark in BENCHMARK_AVERAGE, f'{path.name}: benchmark {benchmark!r} not in the table'
    for evaluator in chosen:
        got = evaluator.get('average', 'all')
        assert got == BENCHMARK_AVERAGE[benchmark], (
            f'{path.name} ({benchmark}): average={got!r}, documented '
            f'{BENCHMARK_AVERAGE[benchmark]!r}'
        )


def test_the_published_detectron2_benchmarks_average_over_present_classes():
    # The brief of issue 21: every published A-847 / PC-459 number is detectron2's.
    assert BENCHMARK_AVERAGE['A-847'] == BENCHMARK_AVERAGE['PC-459'] == 'present'
    assert set(BENCHMARK_AVERAGE.values()) <= set(AVERAGE_MODES)
    assert set(DATASET_BENCHMARKS.values()) <= set(BENCHMARK_AVERAGE)
    assert SPLIT_BENCHMARKS <= set(BENCHMARK_AVERAGE)


def test_one_dataset_type_two_benchmarks():
    voc = dict(type='PascalVOC20Dataset')
    assert benchmark_name(voc) == 'VOC-20'  # training-free or trained elsewhere
    seen = dict(type='ConcatDataset', datasets=[dict(voc, vocabulary='seen')] * 2)
    assert benchmark_name(voc, seen) == 'VOC-20 15/5'
    assert benchmark_name(voc, dict(voc, unlabelled_unseen=True)) == 'VOC-20 15/5'
    assert benchmark_name(voc, dict(voc)) == 'VOC-20'  # every class labelled: not zero-shot
    assert benchmark_name(voc, dict(type='ADE20K150Dataset', vocabulary='seen')) == 'VOC-20'
    assert benchmark_name(dict(type='ScenesDataset', level='colour')) == 'scenes-colour'
    assert benchmark_name(dict(type='MyDataset')) == 'MyDataset'


def test_shipped_zero_shot_split_configs_are_named_so():
    names = {p.name: config_benchmark(Config.fromfile(str(p))) for p in CONFIGS}
    assert names['mvp-seg_vit-b16_20k_voc-20-zs.py'] == 'VOC-20 15/5'
    assert names['mvp-seg-plus_r101-d8_40k_pascal-context-60-zs.py'] == 'Context-60 50/10'
    assert names['dense-clip_vit-b16_zeroshot_voc-20.py'] == 'VOC-20'
    assert names['pat_vit-b_ade20k_zeroshot_pascal-context-459.py'] == 'PC-459'


def test_docs_table_matches_the_code():
    text = (ROOT / 'docs/zero_shot_datasets.md').read_text()
    section = text.split('## How mIoU is averaged', 1)[1]
    rows = re.findall(r'^\| ([^|]+?) \| `(all|present)` \|', section, flags=re.M)
    assert rows, 'no averaging table in docs/zero_shot_datasets.md'
    documented = {name.strip(): mode for name, mode in rows}
    assert documented == BENCHMARK_AVERAGE
