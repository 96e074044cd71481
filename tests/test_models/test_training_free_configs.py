"""The SCLIP / ClearCLIP / NACLIP configs are the MaskCLIP (dense-CLIP) configs of the same
benchmark with only the paper's changes: the dense attention, the logit scale, the slide
window, PAMR. Datasets, evaluators, prompts and weights stay the baseline's."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from mmengine.config import Config

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
BENCHMARKS = (
    'ade20k-150',
    'ade20k-847',
    'coco-stuff-171',
    'pascal-context-459',
    'pascal-context-59',
    'voc-20',
)
# method -> (family folder and variant, logit scale (None: the baseline's), slide window
# (crop, stride) on the ViT-B/16 benchmarks, PAMR)
PAPERS = {
    'sclip': ('sclip', 40.0, (224, 112), False),
    'clearclip': ('clearclip', 50.0, (448, 224), False),
    'naclip': ('naclip', None, (224, 112), False),
    'naclip-pamr': ('naclip', None, (224, 112), True),
}


def _changes(method: str, *, scenes: bool) -> tuple[str, dict]:
    """The family folder and the model fields a method's config changes."""
    family, scale, (crop, stride), pamr = PAPERS[method]
    changes: dict = dict(backbone=dict(dense_attention=family), decode_head={})
    if scale is not None:
        changes['decode_head']['logit_scale'] = scale
    if pamr:
        changes['decode_head']['pamr'] = dict(iterations=10, dilations=(8, 16))
    if not scenes:  # the scenes keep whole-image inference
        changes['test_cfg'] = dict(crop_size=(crop, crop), stride=(stride, stride))
    return family, changes


def _resolved(path: Path) -> dict:
    return Config.fromfile(str(path)).to_dict()


def _merge(into: dict, changes: dict) -> dict:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def _expected(baseline: Path, changes: dict) -> dict:
    cfg = copy.deepcopy(_resolved(baseline))
    _merge(cfg['model'], changes)
    return cfg


@pytest.mark.parametrize('benchmark', BENCHMARKS)
@pytest.mark.parametrize('method', sorted(PAPERS))
def test_benchmark_config_is_the_baseline_with_the_papers_changes(method, benchmark):
    family, changes = _changes(method, scenes=False)
    ours = CONFIGS / family / f'{method}_vit-b16_zeroshot_{benchmark}.py'
    baseline = CONFIGS / 'dense_clip' / f'dense-clip_vit-b16_zeroshot_{benchmark}.py'
    assert _resolved(ours) == _expected(baseline, changes)


@pytest.mark.parametrize('method', sorted(PAPERS))
def test_scenes_config_is_the_baseline_with_the_papers_changes(method):
    family, changes = _changes(method, scenes=True)
    ours = CONFIGS / family / f'{method}_vit-scenes-tiny_scenes.py'
    baseline = CONFIGS / 'dense_clip' / 'dense-clip_vit-scenes-tiny_scenes.py'
    assert _resolved(ours) == _expected(baseline, changes)


def test_every_family_config_is_covered():
    listed = {
        CONFIGS / family / f'{method}_vit-{kind}.py'
        for method, (family, *_) in PAPERS.items()
        for kind in [f'b16_zeroshot_{b}' for b in BENCHMARKS] + ['scenes-tiny_scenes']
    }
    families = ('sclip', 'clearclip', 'naclip')
    found = {p for family in families for p in (CONFIGS / family).glob('*.py')}
    assert found == listed
