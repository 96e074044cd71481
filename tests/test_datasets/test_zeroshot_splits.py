"""Zero-shot training splits of the real benchmarks on tiny fabricated folders:
``vocabulary='seen'`` (inductive) and ``unlabelled_unseen=True`` (transductive) on VOC-20, PC-59,
Context-60 and COCO-Stuff-171, exact label values after LoadAnnotations, metainfo, bad input,
and the ``*_train.py`` dataset bases on their training layouts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS
from module_cases.zeroshot_datasets import SPECS, dataset_cfg, fabricate
from PIL import Image

from mmpat.datasets.class_names import (
    COCO_STUFF171_CLASSES,
    CONTEXT60_CLASSES,
    PC59_CLASSES,
    UNSEEN_CLASSES,
    VOC20_CLASSES,
)
from mmpat.engine.hooks.vocabulary_hook import VocabularyHook

CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'datasets'
# fabrication key -> (class list, UNSEEN_CLASSES key, raw label values: every class id + 255)
SPLITS = {
    'voc20': (VOC20_CLASSES, 'voc20', list(range(21)) + [255]),  # 0 = background (ignored)
    'pascal_context59': (PC59_CLASSES, 'pascal_context59', list(range(60)) + [255]),
    'context60': (CONTEXT60_CLASSES, 'pascal_context59', list(range(60)) + [255]),
    'coco_stuff171': (COCO_STUFF171_CLASSES, 'coco_stuff171', list(range(171)) + [255]),
}


def write_labels(root: Path, key: str) -> np.ndarray:
    """Fabricate ``key``'s layout, then overwrite the label map with every raw value."""
    fabricate(root, key, num=1, size=(16, 16))
    values = SPLITS[key][2]
    label = np.resize(np.asarray(values, dtype=np.uint8), (16, 16))
    spec = SPECS[key]
    Image.fromarray(label).save(root / spec['ann'] / f'img_000{spec["suffix"]}')
    return label


def class_of_raw(key: str, raw: int) -> int | None:
    """Index in the full class list of a raw label value (None: ignored)."""
    if raw == 255:
        return None
    if SPECS[key].get('reduce'):  # label 0 is the ignored background
        return None if raw == 0 else raw - 1
    return raw


def expected(key: str, label: np.ndarray, setting: str) -> np.ndarray:
    """The ground truth of each setting, computed from the class names alone."""
    classes, split, _ = SPLITS[key]
    unseen = set(UNSEEN_CLASSES[split])
    seen = [c for c in classes if c not in unseen]
    out = np.full(label.shape, 255, dtype=np.int64)
    for raw in np.unique(label).tolist():
        index = class_of_raw(key, raw)
        if index is None:
            continue
        name = classes[index]
        if setting == 'all':
            new = index
        elif setting == 'seen':
            new = seen.index(name) if name in seen else 255
        else:  # unlabelled unseen
            new = 255 if name in unseen else index
        out[label == raw] = new
    return out


def gt_of(item) -> np.ndarray:
    return item['data_samples'].gt_sem_seg.data[0].numpy()


SETTINGS = {
    'all': {},
    'seen': dict(vocabulary='seen'),
    'unlabelled': dict(unlabelled_unseen=True),
}


@pytest.mark.parametrize('setting', sorted(SETTINGS))
@pytest.mark.parametrize('key', sorted(SPLITS))
def test_split_labels_after_load_annotations(tmp_path, key, setting):
    label = write_labels(tmp_path, key)
    dataset = DATASETS.build(dataset_cfg(tmp_path, key, **SETTINGS[setting]))
    gt = gt_of(dataset[0])
    assert np.array_equal(gt, expected(key, label, setting))
    classes, split, _ = SPLITS[key]
    unseen = UNSEEN_CLASSES[split]
    meta = dataset.metainfo
    assert set(meta['unseen_classes']) == set(unseen)
    assert len(meta['palette']) == len(meta['classes'])
    if setting == 'seen':
        assert meta['classes'] == tuple(c for c in classes if c not in unseen)
        assert meta['seen_classes'] == meta['classes']
        assert not set(meta['classes']) & set(unseen)
        assert gt.max() < len(meta['classes']) or gt.max() == 255
        assert set(np.unique(gt).tolist()) - {255} == set(range(len(meta['classes'])))
    else:
        assert meta['classes'] == classes
        assert len(meta['seen_classes']) + len(unseen) == len(classes)
    if setting == 'unlabelled':
        unseen_ids = {classes.index(c) for c in unseen}
        assert not set(np.unique(gt).tolist()) & unseen_ids
        assert dataset.unlabelled_unseen and dataset.vocabulary == 'all'


def test_context60_carries_the_context_split(tmp_path):
    fabricate(tmp_path, 'context60', num=1)
    meta = DATASETS.build(dataset_cfg(tmp_path, 'context60')).metainfo
    assert meta['unseen_classes'] == tuple(
        c for c in CONTEXT60_CLASSES if c in UNSEEN_CLASSES['pascal_context59']
    )
    assert len(meta['unseen_classes']) == 10
    assert meta['seen_classes'][0] == 'background' and len(meta['seen_classes']) == 50


def _hook_check(dataset) -> None:
    runner = SimpleNamespace(
        model=SimpleNamespace(class_names=list(dataset.metainfo['classes'])),
        train_dataloader=SimpleNamespace(dataset=dataset),
    )
    VocabularyHook._check_inductive(runner)


@pytest.mark.parametrize('key', ['voc20', 'coco_stuff171'])
def test_inductive_vocabulary_hook(tmp_path, key):
    write_labels(tmp_path, key)
    _hook_check(DATASETS.build(dataset_cfg(tmp_path, key, vocabulary='seen')))  # passes
    for kwargs in ({}, dict(unlabelled_unseen=True)):
        with pytest.raises(ValueError, match='unseen classes'):
            _hook_check(DATASETS.build(dataset_cfg(tmp_path, key, **kwargs)))


def test_seen_vocabulary_with_synonyms_and_subsets(tmp_path):
    label = write_labels(tmp_path, 'voc20')
    renamed = [f'{c}, {c} object' for c in VOC20_CLASSES]
    dataset = DATASETS.build(
        dataset_cfg(tmp_path, 'voc20', metainfo=dict(classes=renamed), vocabulary='seen')
    )
    assert dataset.metainfo['classes'][0] == 'aeroplane, aeroplane object'
    assert dataset.metainfo['unseen_classes'][-1] == 'tvmonitor, tvmonitor object'
    assert np.array_equal(gt_of(dataset[0]), expected('voc20', label, 'seen'))
    # A subset: only its seen classes remain (train is unseen), re-indexed in the given order.
    subset = DATASETS.build(
        dataset_cfg(
            tmp_path, 'voc20', metainfo=dict(classes=['train', 'person', 'cat']), vocabulary='seen'
        )
    )
    assert subset.metainfo['classes'] == ('person', 'cat')
    assert subset.metainfo['unseen_classes'] == ('train',)
    gt = gt_of(subset[0])
    want = np.full(label.shape, 255, dtype=np.int64)
    want[label == 1 + VOC20_CLASSES.index('person')] = 0
    want[label == 1 + VOC20_CLASSES.index('cat')] = 1
    assert np.array_equal(gt, want)


def test_unlabelled_unseen_with_a_subset(tmp_path):
    label = write_labels(tmp_path, 'coco_stuff171')
    classes = ['cow', 'person', 'grass']  # cow and grass are unseen
    dataset = DATASETS.build(
        dataset_cfg(
            tmp_path, 'coco_stuff171', metainfo=dict(classes=classes), unlabelled_unseen=True
        )
    )
    assert tuple(dataset.metainfo['classes']) == tuple(classes)
    assert dataset.metainfo['unseen_classes'] == ('cow', 'grass')
    want = np.full(label.shape, 255, dtype=np.int64)
    want[label == COCO_STUFF171_CLASSES.index('person')] = 1
    assert np.array_equal(gt_of(dataset[0]), want)


@pytest.mark.parametrize(
    'key, kwargs, match',
    [
        ('voc20', dict(vocabulary='unseen'), "PascalVOC20Dataset: vocabulary must be 'all' or"),
        ('context60', dict(vocabulary=None), 'PascalContext60Dataset: vocabulary must be'),
        ('ade150', dict(vocabulary='seen'), "ADE20K150Dataset: vocabulary='seen' needs a seen"),
        ('voc21', dict(vocabulary='seen'), "PascalVOC21Dataset: vocabulary='seen' needs"),
        ('ade847', dict(unlabelled_unseen=True), 'ADE20K847Dataset: unlabelled_unseen=True'),
        (
            'coco_object',
            dict(unlabelled_unseen=True),
            'COCOObjectDataset: unlabelled_unseen=True needs',
        ),
        (
            'coco_stuff171',
            dict(vocabulary='seen', unlabelled_unseen=True),
            "COCOStuff171Dataset: vocabulary='seen'.*unlabelled_unseen=True.*exclude",
        ),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path, key, kwargs, match):
    fabricate(tmp_path, key, num=1)
    with pytest.raises(ValueError, match=match):
        DATASETS.build(dataset_cfg(tmp_path, key, **kwargs))


def test_seen_vocabulary_without_a_seen_class(tmp_path):
    fabricate(tmp_path, 'voc20', num=1)
    cfg = dataset_cfg(tmp_path, 'voc20', metainfo=dict(classes=['sheep', 'sofa']))
    with pytest.raises(ValueError, match='leaves no class'):
        DATASETS.build(dict(cfg, vocabulary='seen'))


# ----------------------------------------------------------------- the training dataset bases
def _fabricate_for(dataset: dict, root: Path, key: str, names: list[str]) -> None:
    """Images and label maps (every raw value) where ``dataset`` (a config) looks for them."""
    prefix, spec = dataset['data_prefix'], SPECS[key]
    values = SPLITS[key][2]
    rng = np.random.default_rng(0)
    for folder in (prefix['img_path'], prefix['seg_map_path']):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name in names:
        image = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / prefix['img_path'] / f'{name}.jpg')
        label = np.resize(np.asarray(values, dtype=np.uint8), (40, 48))
        Image.fromarray(label).save(root / prefix['seg_map_path'] / f'{name}{spec["suffix"]}')
    if dataset.get('ann_file'):
        (root / dataset['ann_file']).parent.mkdir(parents=True, exist_ok=True)
        (root / dataset['ann_file']).write_text(''.join(f'{n}\n' for n in names))


TRAIN_BASES = {
    'voc20_train': ('voc20', 'JPEGImages', (512, 512)),
    'context60_train': ('context60', 'JPEGImages', (480, 480)),
    'coco_stuff171_train': ('coco_stuff171', 'images/train2017', (512, 512)),
}


@pytest.mark.parametrize('setting', ['seen', 'unlabelled'])
@pytest.mark.parametrize('name', sorted(TRAIN_BASES))
def test_train_base_configs(tmp_path, name, setting):
    key, img_path, crop = TRAIN_BASES[name]
    cfg = Config.fromfile(str(CONFIGS / f'{name}.py'))
    dataset_cfg_ = cfg.train_dataloader.dataset.to_dict()
    parts = dataset_cfg_['datasets'] if dataset_cfg_['type'] == 'ConcatDataset' else [dataset_cfg_]
    assert all(p['data_prefix']['img_path'] == img_path for p in parts)
    for index, part in enumerate(parts):
        part.update(data_root=str(tmp_path), **SETTINGS[setting])
        _fabricate_for(part, tmp_path, key, [f'p{index}_img{i}' for i in range(2)])
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(dataset_cfg_)
    assert len(dataset) == 2 * len(parts)
    item = dataset[0]
    height, width = item['inputs'].shape[1:]
    assert height <= crop[0] and width <= crop[1] and max(height, width) > 48  # resized, cropped
    gt = gt_of(item)
    full = expected(key, np.asarray([SPLITS[key][2]], dtype=np.uint8), setting)
    assert set(np.unique(gt).tolist()) <= set(np.unique(full).tolist())
    assert set(np.unique(gt).tolist()) - {255}  # some labelled pixels survive the crop
    assert dataset.metainfo['unseen_classes']
    # Validation inherits the benchmark's val split with every class.
    val = cfg.val_dataloader.dataset
    assert val.get('vocabulary', 'all') == 'all' and not val.get('unlabelled_unseen', False)
