"""Zero-shot datasets on tiny fabricated data: exact labels through the pipeline (16-bit ids
above 255 kept), metainfo, class subsets / synonyms with the right ignore index."""

from __future__ import annotations

import numpy as np
import pytest
from mmseg.registry import DATASETS
from module_cases.zeroshot_datasets import SPECS, dataset_cfg, expected_gt, fabricate

NUM_CLASSES = {
    'ade150': 150,
    'ade847': 847,
    'pascal_context59': 59,
    'pascal_context459': 459,
    'context60': 60,
    'voc20': 20,
    'voc21': 21,
    'coco_stuff171': 171,
    'coco_object': 81,
}


def gt_of(item) -> np.ndarray:
    return item['data_samples'].gt_sem_seg.data[0].numpy()


@pytest.mark.parametrize('key', sorted(SPECS))
def test_dataset_loads_exact_labels(tmp_path, key):
    labels = fabricate(tmp_path, key, num=3)
    dataset = DATASETS.build(dataset_cfg(tmp_path, key))
    assert len(dataset) == 3
    assert len(dataset.metainfo['classes']) == NUM_CLASSES[key]
    for index in range(3):
        item = dataset[index]
        name = item['data_samples'].img_path.rsplit('/', 1)[-1][: -len('.jpg')]
        assert np.array_equal(gt_of(item), expected_gt(key, labels[name]))


@pytest.mark.parametrize('key, top', [('ade847', 846), ('pascal_context459', 458)])
def test_16bit_values_survive(tmp_path, key, top):
    labels = fabricate(tmp_path, key, num=1)
    dataset = DATASETS.build(dataset_cfg(tmp_path, key))
    gt = gt_of(dataset[0])
    assert dataset.ignore_index == 65535 and dataset.metainfo['ignore_index'] == 65535
    assert {256, top, 65535} <= set(np.unique(gt).tolist())
    assert np.array_equal(gt, labels['img_000'].astype(np.int64))
    # mmseg's own loader would wrap them (the reason for LoadAnnotationsUint16).
    cfg = dataset_cfg(tmp_path, key)
    cfg['pipeline'][1] = dict(type='mmseg.LoadAnnotations')
    wrapped = gt_of(DATASETS.build(cfg)[0])
    assert not np.array_equal(wrapped, gt) and wrapped.max() <= 255


def test_seen_unseen_metainfo(tmp_path):
    fabricate(tmp_path, 'voc20', num=1)
    meta = DATASETS.build(dataset_cfg(tmp_path, 'voc20')).metainfo
    assert meta['unseen_classes'] == ('pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
    assert len(meta['seen_classes']) == 15 and 'person' in meta['seen_classes']
    for key, count in [('coco_stuff171', 15), ('pascal_context59', 10)]:
        fabricate(tmp_path / key, key, num=1)
        meta = DATASETS.build(dataset_cfg(tmp_path / key, key)).metainfo
        assert len(meta['unseen_classes']) == count
        assert len(meta['seen_classes']) + count == NUM_CLASSES[key]


def test_subset_of_847_drops_to_65535(tmp_path):
    labels = fabricate(tmp_path, 'ade847', num=1)['img_000'].astype(np.int64)
    from mmpat.datasets.class_names import ADE847_CLASSES

    keep = [ADE847_CLASSES[846], ADE847_CLASSES[256], ADE847_CLASSES[1]]  # new ids 0, 1, 2
    cfg = dataset_cfg(tmp_path, 'ade847', metainfo=dict(classes=keep))
    gt = gt_of(DATASETS.build(cfg)[0])
    expected = np.full_like(labels, 65535)
    expected[labels == 846] = 0
    expected[labels == 256] = 1
    expected[labels == 1] = 2
    assert np.array_equal(gt, expected)  # 255 is a real class here, dropped -> 65535, not 255


def test_synonyms_keep_labels_and_subset_by_first_name(tmp_path):
    labels = fabricate(tmp_path, 'voc20', num=1)['img_000']
    from mmpat.datasets.class_names import VOC20_CLASSES

    renamed = [f'{c}, {c} object' for c in VOC20_CLASSES]
    dataset = DATASETS.build(dataset_cfg(tmp_path, 'voc20', metainfo=dict(classes=renamed)))
    assert dataset.label_map is None
    assert np.array_equal(gt_of(dataset[0]), expected_gt('voc20', labels))
    assert dataset.metainfo['unseen_classes'][-1] == 'tvmonitor, tvmonitor object'
    subset = DATASETS.build(
        dataset_cfg(tmp_path, 'voc20', metainfo=dict(classes=['train, locomotive', 'aeroplane']))
    )
    gt = gt_of(subset[0])
    reduced = expected_gt('voc20', labels)
    expected = np.full_like(reduced, 255)
    expected[reduced == 18] = 0  # train
    expected[reduced == 0] = 1  # aeroplane
    assert np.array_equal(gt, expected)
    assert subset.metainfo['unseen_classes'] == ('train, locomotive',)
    assert subset.metainfo['seen_classes'] == ('aeroplane',)


def test_unknown_or_ambiguous_class_is_a_clear_error(tmp_path):
    fabricate(tmp_path, 'ade847', num=1)
    with pytest.raises(ValueError, match='unicorn.*is not a class'):
        DATASETS.build(dataset_cfg(tmp_path, 'ade847', metainfo=dict(classes=['unicorn'])))
    # A full canonical string still selects its class; a bare shared name is ambiguous.
    from mmpat.datasets.class_names import ADE847_CANONICAL_NAMES
    from mmpat.datasets.zeroshot_base import match_classes

    assert match_classes(ADE847_CANONICAL_NAMES, ['bag, handbag, pocketbook, purse']) == [252]
    with pytest.raises(ValueError, match='ambiguous'):
        match_classes(['screen, crt', 'screen, silver'], ['screen'])


def test_16bit_labels_through_training_transforms(tmp_path):
    """Resize (nearest), RandomCrop with the 16-bit ignore, flip and padding keep the ids."""
    labels = fabricate(tmp_path, 'ade847', num=1, size=(8, 10))['img_000'].astype(np.int64)
    pipeline = [
        dict(type='mmcv.LoadImageFromFile'),
        dict(type='mmseg.LoadAnnotationsUint16'),
        dict(type='mmseg.Resize', scale=(20, 16), keep_ratio=False),  # exactly x2
        dict(type='mmseg.RandomFlip', prob=1.0, direction='horizontal'),
        dict(type='mmseg.PackSegInputs'),
    ]
    dataset = DATASETS.build(dataset_cfg(tmp_path, 'ade847', pipeline=pipeline))
    gt = gt_of(dataset[0])
    expected = np.kron(labels, np.ones((2, 2), dtype=np.int64))[:, ::-1]
    assert np.array_equal(gt, expected)

    pipeline[3] = dict(
        type='mmseg.RandomCrop', crop_size=(6, 6), cat_max_ratio=0.75, ignore_index=65535
    )
    dataset = DATASETS.build(dataset_cfg(tmp_path, 'ade847', pipeline=pipeline))
    gt = gt_of(dataset[0])
    assert gt.shape == (6, 6) and set(np.unique(gt).tolist()) <= set(np.unique(labels).tolist())

    from mmseg.models import SegDataPreProcessor

    item = dataset[0]  # a new random crop
    gt = gt_of(item)
    preprocessor = SegDataPreProcessor(size=(8, 8), seg_pad_val=65535)
    batch = preprocessor(dict(inputs=[item['inputs']], data_samples=[item['data_samples']]), True)
    padded = batch['data_samples'][0].gt_sem_seg.data[0]
    assert padded.shape == (8, 8) and (padded[6:, :] == 65535).all()
    assert np.array_equal(padded[:6, :6].numpy(), gt)


def test_readable_classes_are_accepted(tmp_path):
    from mmpat.datasets.class_names import CLASS_LISTS

    labels = fabricate(tmp_path, 'coco_stuff171', num=1)['img_000']
    classes = CLASS_LISTS['coco_stuff171_readable']
    dataset = DATASETS.build(dataset_cfg(tmp_path, 'coco_stuff171', metainfo=dict(classes=classes)))
    assert dataset.label_map is None and dataset.metainfo['classes'] == classes
    assert 'wall-concrete, concrete wall' in dataset.metainfo['unseen_classes']
    assert np.array_equal(gt_of(dataset[0]), expected_gt('coco_stuff171', labels))
