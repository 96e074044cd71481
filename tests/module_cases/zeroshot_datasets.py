"""Cases for the zero-shot benchmark datasets and ``LoadAnnotationsUint16``, plus the helpers the
dataset tests share: tiny fabricated datasets in each benchmark's on-disk layout."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from . import ModuleCase

U16 = 65535

# Layout and label values of each benchmark (values include ids above 255 for 16-bit sets).
SPECS: dict[str, dict] = {
    'ade150': dict(
        type='ADE20K150Dataset',
        img='images/validation',
        ann='annotations/validation',
        suffix='.png',
        values=[0, 1, 75, 150],
        dtype=np.uint8,
        reduce=True,
    ),
    'ade847': dict(
        type='ADE20K847Dataset',
        img='images/validation',
        ann='annotations/validation',
        suffix='.png',
        values=[0, 1, 254, 255, 256, 300, 846, U16],
        dtype=np.uint16,
    ),
    'pascal_context59': dict(
        type='PascalContext59Dataset',
        img='JPEGImages',
        ann='SegmentationClassContext',
        suffix='.png',
        values=[0, 1, 30, 59],
        dtype=np.uint8,
        reduce=True,
        ann_file='ImageSets/SegmentationContext/val.txt',
    ),
    'pascal_context459': dict(
        type='PascalContext459Dataset',
        img='JPEGImages',
        ann='SegmentationClassContext459',
        suffix='.png',
        values=[0, 58, 255, 256, 458, U16],
        dtype=np.uint16,
        ann_file='ImageSets/SegmentationContext459/val.txt',
    ),
    'context60': dict(
        type='PascalContext60Dataset',
        img='JPEGImages',
        ann='SegmentationClassContext',
        suffix='.png',
        values=[0, 1, 30, 59],
        dtype=np.uint8,
        ann_file='ImageSets/SegmentationContext/val.txt',
    ),
    'voc20': dict(
        type='PascalVOC20Dataset',
        img='JPEGImages',
        ann='SegmentationClass',
        suffix='.png',
        values=[0, 1, 16, 20, 255],
        dtype=np.uint8,
        reduce=True,
        ann_file='ImageSets/Segmentation/val.txt',
    ),
    'voc21': dict(
        type='PascalVOC21Dataset',
        img='JPEGImages',
        ann='SegmentationClass',
        suffix='.png',
        values=[0, 1, 16, 20, 255],
        dtype=np.uint8,
        ann_file='ImageSets/Segmentation/val.txt',
    ),
    'coco_stuff171': dict(
        type='COCOStuff171Dataset',
        img='images/val2017',
        ann='annotations/val2017',
        suffix='_labelTrainIds.png',
        values=[0, 79, 80, 170, 255],
        dtype=np.uint8,
    ),
    'coco_object': dict(
        type='COCOObjectDataset',
        img='images/val2017',
        ann='annotations/val2017',
        suffix='_instanceTrainIds.png',
        values=[0, 1, 80, 255],
        dtype=np.uint8,
    ),
}


def fabricate(root: str | Path, key: str, *, num: int = 2, size=(12, 16)) -> dict[str, np.ndarray]:
    """Write ``num`` random images and label maps in the layout of ``SPECS[key]`` under root.

    Returns:
        dict: image name -> the label array written.
    """
    spec, root = SPECS[key], Path(root)
    rng = np.random.default_rng(len(key))
    labels = {}
    for i in range(num):
        name = f'img_{i:03d}'
        (root / spec['img']).mkdir(parents=True, exist_ok=True)
        (root / spec['ann']).mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / spec['img'] / f'{name}.jpg')
        label = rng.choice(np.asarray(spec['values'], dtype=spec['dtype']), size=size)
        label.flat[: len(spec['values'])] = spec['values']  # every value occurs
        Image.fromarray(label).save(root / spec['ann'] / f'{name}{spec["suffix"]}')
        labels[name] = label
    if spec.get('ann_file'):
        (root / spec['ann_file']).parent.mkdir(parents=True, exist_ok=True)
        (root / spec['ann_file']).write_text(''.join(f'{n}\n' for n in labels))
    return labels


def default_pipeline(key: str) -> list[dict]:
    """Load, load labels (16-bit loader where needed), pack; scoped names build without a
    default scope (the all-modules test builds outside a runner)."""
    loader = 'LoadAnnotationsUint16' if SPECS[key]['dtype'] == np.uint16 else 'LoadAnnotations'
    return [
        dict(type='mmcv.LoadImageFromFile'),
        dict(type=f'mmseg.{loader}'),
        dict(type='mmseg.PackSegInputs'),
    ]


def dataset_cfg(root: str | Path, key: str, **kwargs) -> dict:
    """A test-mode dataset config over the fabricated data of ``key``."""
    spec = SPECS[key]
    cfg = dict(
        type=spec['type'],
        data_root=str(root),
        data_prefix=dict(img_path=spec['img'], seg_map_path=spec['ann']),
        pipeline=default_pipeline(key),
        test_mode=True,
    )
    if spec.get('ann_file'):
        cfg['ann_file'] = spec['ann_file']
    cfg.update(kwargs)
    return cfg


def expected_gt(key: str, label: np.ndarray) -> np.ndarray:
    """The ground truth the dataset must deliver for a label map (mmseg semantics)."""
    label = label.astype(np.int64)
    if not SPECS[key].get('reduce'):
        return label
    ignore = 255
    return np.where((label == 0) | (label == ignore), ignore, label - 1)


_ROOT = Path(tempfile.mkdtemp(prefix='mmpat_zeroshot_cases_'))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
_LABELS = {key: fabricate(_ROOT / key, key) for key in SPECS}


def _check_dataset(key: str):
    def check(output: dict) -> None:
        gt = output['data_samples'].gt_sem_seg.data[0].numpy()
        name = Path(output['data_samples'].img_path).stem
        assert np.array_equal(gt, expected_gt(key, _LABELS[key][name])), key

    return check


def _check_uint16(output: dict) -> None:
    assert output['gt_seg_map'].dtype == np.uint16
    assert np.array_equal(output['gt_seg_map'], _LABELS['ade847']['img_000'])


CASES = [
    ModuleCase(
        cfg=dataset_cfg(_ROOT / key, key),
        make_inputs=lambda: ((0,), {}),
        method='__getitem__',
        registry='DATASETS',
        backward=False,
        check=_check_dataset(key),
        id=f'{SPECS[key]["type"]}',
    )
    for key in SPECS
] + [
    ModuleCase(
        cfg=dict(type='LoadAnnotationsUint16'),
        make_inputs=lambda: (
            (
                dict(
                    seg_map_path=str(_ROOT / 'ade847/annotations/validation/img_000.png'),
                    reduce_zero_label=False,
                    seg_fields=[],
                ),
            ),
            {},
        ),
        registry='TRANSFORMS',
        backward=False,
        check=_check_uint16,
    )
]
