"""ScenesDataset, ImageCaptionDataset and PackImageCaption, through a DataLoader with mmseg's
SegDataPreProcessor; clear errors for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import DATASETS, HOOKS, TRANSFORMS
from PIL import Image
from torch.utils.data import DataLoader

from mmpat.datasets.scenes import generate_scenes

CAPTION_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackImageCaption', mode='random'),
]
SEG_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Build unscoped type names like a runner does, without leaking the scope to other tests."""
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


@pytest.fixture(scope='module')
def scenes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('scenes_ds') / 'scenes'
    generate_scenes(str(root), size=40, num_pretrain=8, num_train=4, num_val=6, progress=False)
    return root


def test_scenes_dataset_reads_meta_and_split(scenes):
    meta = json.loads((scenes / 'meta.json').read_text())
    ds = DATASETS.build(
        dict(type='ScenesDataset', data_root=str(scenes), split='val', pipeline=SEG_PIPELINE)
    )
    assert len(ds) == 6
    assert list(ds.metainfo['classes']) == meta['classes']
    assert list(ds.metainfo['seen_classes']) == meta['seen']
    assert list(ds.metainfo['unseen_classes']) == meta['unseen']
    assert [list(p) for p in ds.metainfo['palette']] == meta['palette']
    item = ds[2]
    gt = item['data_samples'].gt_sem_seg.data[0].numpy()
    expected = np.array(Image.open(scenes / 'ann_dir' / 'val' / '000002.png'))
    np.testing.assert_array_equal(gt, expected)
    assert item['inputs'].shape == (3, 40, 40) and item['inputs'].dtype == torch.uint8
    assert (
        len(DATASETS.build(dict(type='ScenesDataset', data_root=str(scenes), split='train'))) == 4
    )


def test_scenes_dataset_config_split_and_errors(scenes, tmp_path):
    meta = json.loads((scenes / 'meta.json').read_text())
    ds = DATASETS.build(
        dict(
            type='ScenesDataset',
            data_root=str(scenes),
            unseen_classes=meta['seen'][:2],
            seen_classes=meta['seen'][2:],
        )
    )
    assert list(ds.metainfo['unseen_classes']) == meta['seen'][:2]
    with pytest.raises(ValueError, match="'pink elephant'"):
        DATASETS.build(
            dict(type='ScenesDataset', data_root=str(scenes), unseen_classes=['pink elephant'])
        )
    with pytest.raises(ValueError, match='both in seen_classes and unseen_classes'):
        DATASETS.build(
            dict(
                type='ScenesDataset',
                data_root=str(scenes),
                seen_classes=meta['seen'],
                unseen_classes=meta['seen'][:1],
            )
        )
    with pytest.raises(FileNotFoundError, match='gen_scenes.py'):
        DATASETS.build(dict(type='ScenesDataset', data_root=str(tmp_path / 'nowhere')))
    # a folder of generator version 2 has no ann_dir/pretrain: the error says how to upgrade
    old = tmp_path / 'v2'
    shutil.copytree(scenes, old)
    shutil.rmtree(old / 'ann_dir' / 'pretrain')
    with pytest.raises(FileNotFoundError, match=r'no label maps.*gen_scenes\.py --out'):
        DATASETS.build(dict(type='ScenesDataset', data_root=str(old), split='pretrain'))


def test_caption_dataset_transform_preprocessor_loader(scenes):
    ds = DATASETS.build(
        dict(
            type='ImageCaptionDataset',
            data_root=str(scenes),
            ann_file='captions/pretrain.jsonl',
            pipeline=CAPTION_PIPELINE,
        )
    )
    lines = [
        json.loads(line)
        for line in (scenes / 'captions/pretrain.jsonl').read_text().split('\n')
        if line
    ]
    assert len(ds) == 8
    info = ds.get_data_info(3)
    assert info['img_path'] == str(scenes / lines[3]['image'])
    assert info['captions'] == lines[3]['captions']

    loader = DataLoader(ds, batch_size=4, shuffle=False, collate_fn=pseudo_collate)
    pre = SegDataPreProcessor(
        mean=[10.0, 20.0, 30.0], std=[2.0, 4.0, 5.0], bgr_to_rgb=True, size=(40, 40)
    )
    batches = list(loader)
    assert len(batches) == 2
    out = pre(batches[0], training=True)
    assert out['inputs'].shape == (4, 3, 40, 40) and out['inputs'].dtype == torch.float32
    for k, sample in enumerate(out['data_samples']):
        assert sample.captions == lines[k]['captions']
        assert sample.caption in lines[k]['captions']
        assert sample.img_path == str(scenes / lines[k]['image'])
        assert sample.ori_shape == (40, 40) and sample.img_shape == (40, 40)
        # Inputs are the normalised RGB image (LoadImageFromFile gives BGR; flips allowed).
        rgb = np.array(Image.open(sample.img_path)).astype(np.float32)
        if sample.flip:
            rgb = rgb[:, ::-1]
        expected = (rgb - np.array([10.0, 20.0, 30.0])) / np.array([2.0, 4.0, 5.0])
        np.testing.assert_allclose(out['inputs'][k].permute(1, 2, 0).numpy(), expected, atol=1e-4)


def test_pack_image_caption_modes():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    results = dict(
        img=img, img_path='x.png', ori_shape=(2, 3), img_shape=(2, 3), captions=['a', 'b', 'c']
    )
    first = TRANSFORMS.build(dict(type='PackImageCaption', mode='first'))
    out = first(dict(results))
    assert out['inputs'].dtype == torch.uint8
    np.testing.assert_array_equal(out['inputs'].numpy(), img.transpose(2, 0, 1))
    assert out['data_samples'].caption == 'a' and out['data_samples'].captions == ['a', 'b', 'c']
    assert out['data_samples'].img_path == 'x.png'
    rand = TRANSFORMS.build(dict(type='PackImageCaption', mode='random'))
    np.random.seed(0)
    picked = {rand(dict(results))['data_samples'].caption for _ in range(50)}
    assert picked == {'a', 'b', 'c'}
    gray = TRANSFORMS.build(dict(type='PackImageCaption'))(dict(img=img[..., 0], captions='one'))
    assert gray['inputs'].shape == (1, 2, 3) and gray['data_samples'].captions == ['one']
    with pytest.raises(ValueError, match='mode'):
        TRANSFORMS.build(dict(type='PackImageCaption', mode='all'))
    with pytest.raises(KeyError, match='captions'):
        first(dict(img=img))


def test_caption_jsonl_formats_and_errors(scenes, tmp_path):
    image = scenes / 'img_dir' / 'pretrain' / '000000.png'
    good = tmp_path / 'mine.jsonl'
    good.write_text(
        json.dumps(dict(image=str(image), caption='one caption'))
        + '\n\n'
        + json.dumps(dict(image='img_dir/pretrain/000001.png', captions=['x', 'y']))
        + '\n'
    )
    ds = DATASETS.build(dict(type='ImageCaptionDataset', ann_file=str(good), data_root=str(scenes)))
    assert [d['captions'] for d in (ds.get_data_info(0), ds.get_data_info(1))] == [
        ['one caption'],
        ['x', 'y'],
    ]
    assert ds.get_data_info(0)['img_path'] == str(image)

    bad = tmp_path / 'bad.jsonl'
    bad.write_text(
        json.dumps(dict(image=str(image), captions=['ok']))
        + '\n'
        + json.dumps(dict(image='img_dir/pretrain/999999.png', captions=['gone']))
        + '\n'
    )
    with pytest.raises(
        FileNotFoundError, match=r'bad\.jsonl line 2: image .*999999\.png not found'
    ):
        DATASETS.build(dict(type='ImageCaptionDataset', ann_file=str(bad), data_root=str(scenes)))
    bad.write_text(json.dumps(dict(image=str(image), captions=[])) + '\n')
    with pytest.raises(ValueError, match='line 1: needs "captions"'):
        DATASETS.build(dict(type='ImageCaptionDataset', ann_file=str(bad)))
    bad.write_text('{"image": \n')
    with pytest.raises(ValueError, match='line 1: not valid JSON'):
        DATASETS.build(dict(type='ImageCaptionDataset', ann_file=str(bad)))
    with pytest.raises(FileNotFoundError, match='caption file'):
        DATASETS.build(dict(type='ImageCaptionDataset', ann_file=str(tmp_path / 'none.jsonl')))


@pytest.mark.parametrize('level', ['colour', 'shape'])
def test_scenes_dataset_merges_classes_and_label_maps(scenes, level):
    meta = json.loads((scenes / 'meta.json').read_text())
    ds = DATASETS.build(
        dict(
            type='ScenesDataset',
            data_root=str(scenes),
            split='val',
            level=level,
            pipeline=SEG_PIPELINE,
        )
    )
    names = list(ds.metainfo['classes'])
    if level == 'colour':
        assert names[:3] == ['background', 'red object', 'green object'] and len(names) == 7
    else:
        assert names == ['background', 'circle', 'square', 'triangle', 'star', 'cross']
    assert list(ds.metainfo['seen_classes']) == names[1:] and not ds.metainfo['unseen_classes']
    assert len(ds.metainfo['palette']) == len(names)
    for index in range(len(ds)):
        gt = ds[index]['data_samples'].gt_sem_seg.data[0].numpy()
        raw = np.array(Image.open(scenes / 'ann_dir' / 'val' / f'{index:06d}.png'))
        word = 0 if level == 'colour' else 1
        expected = [
            0
            if c == 'background'
            else names.index(f'{c.split()[0]} object' if word == 0 else c.split()[1])
            for c in meta['classes']
        ]
        np.testing.assert_array_equal(gt, np.array(expected)[raw])


def test_scenes_dataset_level_errors(scenes):
    with pytest.raises(ValueError, match='level must be one of'):
        DATASETS.build(dict(type='ScenesDataset', data_root=str(scenes), level='size'))
    with pytest.raises(ValueError, match='apply to level="class" only'):
        DATASETS.build(
            dict(
                type='ScenesDataset',
                data_root=str(scenes),
                level='colour',
                seen_classes=['red circle'],
            )
        )


def test_scenes_dataset_seen_vocabulary_reindexes_and_ignores_unseen(scenes):
    meta = json.loads((scenes / 'meta.json').read_text())
    classes, seen, unseen = meta['classes'], meta['seen'], meta['unseen']
    ds = DATASETS.build(
        dict(
            type='ScenesDataset',
            data_root=str(scenes),
            split='val',
            vocabulary='seen',
            pipeline=SEG_PIPELINE,
        )
    )
    kept = ['background'] + [c for c in classes[1:] if c in seen]
    assert list(ds.metainfo['classes']) == kept and len(kept) == 1 + len(seen)
    palette = [meta['palette'][classes.index(c)] for c in kept]
    assert [list(p) for p in ds.metainfo['palette']] == palette
    # the unseen names stay in the metainfo (evaluation and VocabularyHook read them)
    assert list(ds.metainfo['seen_classes']) == seen
    assert list(ds.metainfo['unseen_classes']) == unseen
    lookup = np.array([kept.index(c) if c in kept else 255 for c in classes])
    found_unseen = False
    for index in range(len(ds)):
        gt = ds[index]['data_samples'].gt_sem_seg.data[0].numpy()
        raw = np.array(Image.open(scenes / 'ann_dir' / 'val' / f'{index:06d}.png'))
        np.testing.assert_array_equal(gt, lookup[raw])
        found_unseen |= bool((gt == 255).any())
        assert gt[gt != 255].max() < len(kept)
    assert found_unseen, 'the val split should hold unseen objects (labels 255)'
    # train holds seen classes only: nothing is ignored there
    train = DATASETS.build(
        dict(
            type='ScenesDataset',
            data_root=str(scenes),
            split='train',
            vocabulary='seen',
            pipeline=SEG_PIPELINE,
        )
    )
    assert all(
        not (train[i]['data_samples'].gt_sem_seg.data == 255).any() for i in range(len(train))
    )


def test_scenes_dataset_seen_vocabulary_with_overrides_and_levels(scenes):
    picked = ['blue star', 'red circle']  # given out of order: the classes keep meta's order
    ds = DATASETS.build(
        dict(
            type='ScenesDataset',
            data_root=str(scenes),
            vocabulary='seen',
            seen_classes=picked,
            unseen_classes=['red square'],
        )
    )
    assert list(ds.metainfo['classes']) == ['background', 'red circle', 'blue star']
    label_map = ds.metainfo['label_map']
    assert label_map[0] == 0 and label_map[1] == 1 and label_map[14] == 2
    assert label_map[2] == 255 and label_map[30] == 255
    # at the merged levels every class is seen: 'seen' equals 'all'
    for level in ('colour', 'shape'):
        seen_ds = DATASETS.build(
            dict(type='ScenesDataset', data_root=str(scenes), level=level, vocabulary='seen')
        )
        all_ds = DATASETS.build(dict(type='ScenesDataset', data_root=str(scenes), level=level))
        assert seen_ds.metainfo['classes'] == all_ds.metainfo['classes']
        assert seen_ds.metainfo['label_map'] == all_ds.metainfo['label_map']
    with pytest.raises(ValueError, match="vocabulary must be 'all' or 'seen'"):
        DATASETS.build(dict(type='ScenesDataset', data_root=str(scenes), vocabulary='unseen'))


def test_scenes_dataset_unlabelled_unseen_on_pretrain(scenes):
    meta = json.loads((scenes / 'meta.json').read_text())
    classes, unseen = meta['classes'], meta['unseen']
    ds = DATASETS.build(
        dict(
            type='ScenesDataset',
            data_root=str(scenes),
            split='pretrain',
            unlabelled_unseen=True,
            pipeline=SEG_PIPELINE,
        )
    )
    assert len(ds) == 8
    # the vocabulary keeps every class (transductive), only the unseen pixels are ignored
    assert list(ds.metainfo['classes']) == classes and len(classes) == 31
    assert list(ds.metainfo['unseen_classes']) == unseen
    assert [list(p) for p in ds.metainfo['palette']] == meta['palette']
    unseen_labels = [classes.index(c) for c in unseen]
    found_unseen = found_seen = False
    for index in range(len(ds)):
        gt = ds[index]['data_samples'].gt_sem_seg.data[0].numpy()
        raw = np.array(Image.open(scenes / 'ann_dir' / 'pretrain' / f'{index:06d}.png'))
        hidden = np.isin(raw, unseen_labels)
        assert (gt[hidden] == 255).all()
        np.testing.assert_array_equal(gt[~hidden], raw[~hidden])  # seen and background kept
        found_unseen |= bool(hidden.any())
        found_seen |= bool((raw[~hidden] > 0).any())
    assert found_unseen and found_seen, 'pretrain should hold seen and unseen objects'
    # without the flag, pretrain label maps load as they are
    plain = DATASETS.build(
        dict(type='ScenesDataset', data_root=str(scenes), split='pretrain', pipeline=SEG_PIPELINE)
    )
    raw = np.array(Image.open(scenes / 'ann_dir' / 'pretrain' / '000000.png'))
    np.testing.assert_array_equal(plain[0]['data_samples'].gt_sem_seg.data[0].numpy(), raw)
    for bad in (dict(vocabulary='seen'), dict(level='colour'), dict(level='shape')):
        with pytest.raises(ValueError, match=r"unlabelled_unseen=True needs vocabulary='all'"):
            DATASETS.build(
                dict(
                    type='ScenesDataset',
                    data_root=str(scenes),
                    split='pretrain',
                    unlabelled_unseen=True,
                    **bad,
                )
            )


class _Segmentor(torch.nn.Module):
    """Just the vocabulary interface of OpenVocabEncoderDecoder."""

    def __init__(self) -> None:
        super().__init__()
        self.class_names: list = []

    def set_vocabulary(self, names, palette=None) -> None:
        self.class_names = list(names)


def _runner(dataset):
    return SimpleNamespace(model=_Segmentor(), train_dataloader=SimpleNamespace(dataset=dataset))


def test_vocabulary_hook_refuses_unseen_classes_in_training(scenes):
    meta = json.loads((scenes / 'meta.json').read_text())
    seen_ds = DATASETS.build(
        dict(type='ScenesDataset', data_root=str(scenes), split='train', vocabulary='seen')
    )
    all_ds = DATASETS.build(dict(type='ScenesDataset', data_root=str(scenes), split='train'))
    hook = HOOKS.build(dict(type='VocabularyHook'))
    assert hook.inductive
    runner = _runner(seen_ds)
    hook.before_train(runner)
    assert runner.model.class_names == list(seen_ds.metainfo['classes'])
    with pytest.raises(ValueError, match=r"unseen classes \[.*'red square'.*inductive=False"):
        hook.before_train(_runner(all_ds))
    # every unseen name is listed
    with pytest.raises(ValueError) as info:
        hook.before_train(_runner(all_ds))
    assert all(repr(name) in str(info.value) for name in meta['unseen'])
    # synonyms: the primary name is what counts
    synonyms = SimpleNamespace(
        metainfo=dict(
            classes=('background', 'blue circle'),
            class_synonyms=[['background'], ['blue circle', 'blue disc']],
            unseen_classes=('blue circle',),
        )
    )
    with pytest.raises(ValueError, match="'blue circle'"):
        hook.before_train(_runner(synonyms))
    # a transductive method may name unseen classes in training
    transductive = HOOKS.build(dict(type='VocabularyHook', inductive=False))
    runner = _runner(all_ds)
    transductive.before_train(runner)
    assert runner.model.class_names == meta['classes']


def test_caption_dataset_tags_from_file_and_line(scenes, tmp_path):
    """Tags come from the scenes' annotations (object names, in order) or from each line."""
    ds = DATASETS.build(
        dict(
            type='ImageCaptionDataset',
            data_root=str(scenes),
            ann_file='captions/pretrain.jsonl',
            tags_file='annotations/pretrain.jsonl',
            pipeline=CAPTION_PIPELINE,
        )
    )
    annotations = [
        json.loads(line)
        for line in (scenes / 'annotations/pretrain.jsonl').read_text().splitlines()
        if line
    ]
    for index, record in enumerate(annotations):
        pixels: dict[str, float] = {}
        for obj in record['objects']:
            pixels[obj['name']] = pixels.get(obj['name'], 0.0) + obj['visible_pixels']
        assert ds.get_data_info(index)['tags'] == list(pixels)
        assert ds.get_data_info(index)['tag_weights'] == list(pixels.values())
        packed = ds[index]['data_samples']
        assert packed.tags == list(pixels) and packed.tag_weights == list(pixels.values())
    own = tmp_path / 'own.jsonl'
    image = str(scenes / 'img_dir/pretrain/000000.png')
    own.write_text(json.dumps({'image': image, 'caption': 'x', 'tags': ['cat', 'sofa', 'cat']}))
    info = DATASETS.build(dict(type='ImageCaptionDataset', ann_file=str(own))).get_data_info(0)
    assert info['tags'] == ['cat', 'sofa'] and 'tag_weights' not in info
    weighted = tmp_path / 'weighted.jsonl'
    weighted.write_text(
        json.dumps({'image': image, 'caption': 'x', 'tags': ['cat', 'sofa'], 'tag_weights': [3, 1]})
    )
    info = DATASETS.build(dict(type='ImageCaptionDataset', ann_file=str(weighted))).get_data_info(0)
    assert info['tag_weights'] == [3.0, 1.0]
    weighted.write_text(
        json.dumps({'image': image, 'caption': 'x', 'tags': ['a'], 'tag_weights': [1, 2]})
    )
    with pytest.raises(ValueError, match='tag weights must be 1 non-negative numbers'):
        DATASETS.build(dict(type='ImageCaptionDataset', ann_file=str(weighted)))
    missing = tmp_path / 'tags.jsonl'
    missing.write_text(json.dumps({'image': 'elsewhere.png', 'tags': ['cat']}) + '\n')
    with pytest.raises(KeyError, match=r'no line for image .*000000\.png'):
        DATASETS.build(dict(type='ImageCaptionDataset', ann_file=str(own), tags_file=str(missing)))
    bad = tmp_path / 'bad.jsonl'
    bad.write_text(json.dumps({'image': image, 'caption': 'x', 'tags': []}) + '\n')
    with pytest.raises(ValueError, match='bad.jsonl line 1: tags must be a non-empty list'):
        DATASETS.build(dict(type='ImageCaptionDataset', ann_file=str(bad)))
