"""Dataset converters on tiny fabricated inputs: exact output values, layouts, resizing,
refusal to overwrite different outputs, CLIs."""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from mmpat.datasets.class_names import ADE847_ADE_IDS, ADE847_CANONICAL_NAMES
from mmpat.datasets.converters import (
    OutputExistsError,
    convert_ade20k_full,
    convert_coco_object,
    convert_pascal_context_459,
)
from mmpat.datasets.converters.coco_object import RAW_THING_IDS

TOOLS = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'tool_{name}', TOOLS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


# ---------------------------------------------------------------- ADE20K full -> A-847
# (ADE object id, expected A-847 label): anchors of the table, ids outside it, unlabelled 0.
ADE_CASES = [(2978, 0), (312, 1), (1857, 255), (2155, 244), (444, 512), (3148, 846), (0, 65535)]
ADE_CASES.append((next(i for i in range(1, 4000) if i not in ADE847_ADE_IDS), 65535))


def ade_seg_png(class_ids: np.ndarray, rng) -> np.ndarray:
    """Encode ADE object ids the way the release does: R = id // 256 * 10 (+ <10), G = id % 256."""
    seg = np.zeros((*class_ids.shape, 3), np.uint8)
    seg[..., 0] = class_ids // 256 * 10 + rng.integers(0, 10, class_ids.shape)  # R / 10 floors
    seg[..., 1] = class_ids % 256
    seg[..., 2] = rng.integers(0, 256, class_ids.shape)  # instance channel, unused
    return seg


def make_ade_release(root: Path, *, with_index: bool, size=(6, 8)) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    release = root / 'ADE20K_2021_17_01'
    expected, folders, names = {}, [], []
    for split, stem in [('validation', 'ADE_val_00000001'), ('training', 'ADE_train_00000007')]:
        folder = release / 'images' / 'ADE' / split / 'cultural' / 'scene'
        folder.mkdir(parents=True)
        ids = rng.choice([c for c, _ in ADE_CASES], size=size)
        ids.flat[: len(ADE_CASES)] = [c for c, _ in ADE_CASES]
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(
            folder / f'{stem}.jpg'
        )
        Image.fromarray(ade_seg_png(ids, rng)).save(folder / f'{stem}_seg.png')
        lut = dict(ADE_CASES)
        expected[stem] = np.vectorize(lut.get)(ids).astype(np.uint16)
        folders.append(f'ADE20K_2021_17_01/images/ADE/{split}/cultural/scene')
        names.append(f'{stem}.jpg')
    if with_index:
        object_names = ['-'] * 3200
        for ade_id, name in zip(ADE847_ADE_IDS, ADE847_CANONICAL_NAMES):
            object_names[ade_id - 1] = name  # class value v names objectnames[v - 1]
        index = {'folder': folders, 'filename': names, 'objectnames': object_names}
        with open(release / 'index_ade20k.pkl', 'wb') as f:
            pickle.dump(index, f)
    return expected


@pytest.mark.parametrize('with_index', [True, False])
def test_ade20k_full_exact(tmp_path, with_index):
    expected = make_ade_release(tmp_path, with_index=with_index)
    out = tmp_path / 'out'
    result = convert_ade20k_full(tmp_path / 'ADE20K_2021_17_01', out)  # validation only
    assert result == {'validation': ['written']}
    label = read(out / 'annotations/validation/ADE_val_00000001.png')
    assert label.dtype == np.uint16
    assert np.array_equal(label, expected['ADE_val_00000001'])
    assert read(out / 'images/validation/ADE_val_00000001.jpg').shape == (6, 8, 3)
    assert not (out / 'annotations/training').exists()
    convert_ade20k_full(tmp_path / 'ADE20K_2021_17_01', out, splits=('training',), nproc=2)
    train = read(out / 'annotations/training/ADE_train_00000007.png')
    assert np.array_equal(train, expected['ADE_train_00000007'])


def test_ade20k_full_resizes_short_side(tmp_path):
    release = tmp_path / 'ADE20K_2021_17_01' / 'images' / 'ADE' / 'validation'
    release.mkdir(parents=True)
    blocks = np.array([[2978, 312, 0], [1857, 3148, 444]])  # 2 x 3 blocks of 2 x 2 pixels
    ids = np.kron(blocks, np.ones((2, 2), dtype=np.int64))  # 4 x 6
    rng = np.random.default_rng(1)
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(release / 'ADE_val_00000002.jpg')
    Image.fromarray(ade_seg_png(ids, rng)).save(release / 'ADE_val_00000002_seg.png')
    out = tmp_path / 'out'
    convert_ade20k_full(tmp_path / 'ADE20K_2021_17_01', out, max_short_side=2)
    label = read(out / 'annotations/validation/ADE_val_00000002.png')
    assert np.array_equal(label, [[0, 1, 65535], [255, 846, 512]])  # nearest: one pixel a block
    assert read(out / 'images/validation/ADE_val_00000002.jpg').shape[:2] == (2, 3)


def test_ade20k_full_refuses_to_overwrite_different_output(tmp_path):
    make_ade_release(tmp_path, with_index=True)
    src, out = tmp_path / 'ADE20K_2021_17_01', tmp_path / 'out'
    convert_ade20k_full(src, out)
    assert convert_ade20k_full(src, out) == {'validation': ['unchanged']}
    label_path = out / 'annotations/validation/ADE_val_00000001.png'
    Image.fromarray(np.zeros((6, 8), np.uint16)).save(label_path)
    with pytest.raises(OutputExistsError, match='--overwrite'):
        convert_ade20k_full(src, out)
    assert read(label_path).max() == 0  # untouched
    convert_ade20k_full(src, out, overwrite=True)
    assert read(label_path).max() == 65535


def test_ade20k_full_checks_object_names(tmp_path):
    make_ade_release(tmp_path, with_index=True)
    index_file = tmp_path / 'ADE20K_2021_17_01' / 'index_ade20k.pkl'
    index = pickle.loads(index_file.read_bytes())
    index['objectnames'] = ['-'] + index['objectnames'][:-1]  # numbering shifted by one
    index_file.write_bytes(pickle.dumps(index))
    with pytest.raises(ValueError, match='do not fit the A-847 ids'):
        convert_ade20k_full(tmp_path / 'ADE20K_2021_17_01', tmp_path / 'out')
    convert_ade20k_full(tmp_path / 'ADE20K_2021_17_01', tmp_path / 'out', check_names=False)


def test_ade20k_full_cli(tmp_path, capsys):
    make_ade_release(tmp_path, with_index=False)
    tool = load_tool('ade20k_full')
    out = tmp_path / 'cli_out'
    assert tool.main([str(tmp_path / 'ADE20K_2021_17_01'), '--out-dir', str(out)]) == 0
    assert (out / 'annotations/validation/ADE_val_00000001.png').is_file()
    assert tool.main([str(tmp_path / 'missing'), '--out-dir', str(out)]) == 1
    assert 'error:' in capsys.readouterr().err


# ------------------------------------------------------ PASCAL Context .mat -> PC-459
def make_voc2010(root: Path) -> dict[str, np.ndarray]:
    maps = {
        '2008_000002': np.array([[0, 1, 2], [256, 257, 459]], dtype=np.uint16),
        '2008_000003': np.array([[459, 459], [0, 18]], dtype=np.uint16),
    }
    (root / 'trainval').mkdir(parents=True)
    for image_id, label_map in maps.items():
        scipy.io.savemat(root / 'trainval' / f'{image_id}.mat', {'LabelMap': label_map})
    split = root / 'ImageSets' / 'SegmentationContext' / 'val.txt'
    split.parent.mkdir(parents=True)
    split.write_text('2008_000002\n2008_000003\n')
    return maps


def test_pascal_context_459_exact(tmp_path):
    make_voc2010(tmp_path)
    ids = convert_pascal_context_459(tmp_path, nproc=2)
    assert ids == ['2008_000002', '2008_000003']
    first = read(tmp_path / 'SegmentationClassContext459' / '2008_000002.png')
    assert first.dtype == np.uint16
    assert first.tolist() == [[65535, 0, 1], [255, 256, 458]]
    second = read(tmp_path / 'SegmentationClassContext459' / '2008_000003.png')
    assert second.tolist() == [[458, 458], [65535, 17]]  # 18 = 'bed' -> 17
    listing = tmp_path / 'ImageSets' / 'SegmentationContext459' / 'val.txt'
    assert listing.read_text() == '2008_000002\n2008_000003\n'
    assert convert_pascal_context_459(tmp_path) == ids  # idempotent re-run


def test_pascal_context_459_missing_and_bad(tmp_path):
    make_voc2010(tmp_path)
    split = tmp_path / 'ImageSets' / 'SegmentationContext' / 'val.txt'
    split.write_text('2008_000002\n2009_999999\n')
    with pytest.raises(FileNotFoundError, match='--skip-missing'):
        convert_pascal_context_459(tmp_path)
    assert convert_pascal_context_459(tmp_path, skip_missing=True) == ['2008_000002']
    scipy.io.savemat(tmp_path / 'trainval' / '2008_000002.mat', {'LabelMap': np.full((2, 2), 460)})
    with pytest.raises(ValueError, match='0..459'):
        convert_pascal_context_459(tmp_path, skip_missing=True, overwrite=True)
    scipy.io.savemat(tmp_path / 'trainval' / '2008_000002.mat', {'Other': np.zeros((2, 2))})
    with pytest.raises(KeyError, match='LabelMap'):
        convert_pascal_context_459(tmp_path, skip_missing=True, overwrite=True)


def test_pascal_context_459_checks_labels_txt(tmp_path):
    from mmpat.datasets.class_names import PC459_CLASSES

    make_voc2010(tmp_path)
    lines = [f'{k}: {name}' for k, name in enumerate(PC459_CLASSES, start=1)]
    (tmp_path / 'labels.txt').write_text('\n'.join(lines) + '\n')
    assert len(convert_pascal_context_459(tmp_path)) == 2  # found and matching
    lines[1], lines[2] = '2: air conditioner', '3: aeroplane'
    (tmp_path / 'labels.txt').write_text('\n'.join(lines) + '\n')
    with pytest.raises(ValueError, match=r"\(2, 'air conditioner', 'aeroplane'\)"):
        convert_pascal_context_459(tmp_path)


def test_pascal_context_459_refuses_to_overwrite(tmp_path):
    make_voc2010(tmp_path)
    convert_pascal_context_459(tmp_path)
    target = tmp_path / 'SegmentationClassContext459' / '2008_000003.png'
    Image.fromarray(np.ones((2, 2), np.uint16)).save(target)
    with pytest.raises(OutputExistsError):
        convert_pascal_context_459(tmp_path)
    tool = load_tool('pascal_context_459')
    assert tool.main([str(tmp_path)]) == 1
    assert tool.main([str(tmp_path), '--overwrite']) == 0
    assert read(target).tolist() == [[458, 458], [65535, 17]]


# --------------------------------------------------- COCO-Stuff -> COCO-Object
def test_coco_object_from_train_ids(tmp_path):
    # 0 person, 11 stop sign, 79 toothbrush, 80 banner (stuff), 170 wood (stuff), 255 ignore
    stuff = np.array([[0, 11, 79], [80, 170, 255]], dtype=np.uint8)
    Image.fromarray(stuff).save(tmp_path / '000000000139_labelTrainIds.png')
    Image.fromarray(np.full((2, 3), 7, np.uint8)).save(tmp_path / '000000000139.png')  # raw map
    assert convert_coco_object(tmp_path) == ['written']
    out = read(tmp_path / '000000000139_instanceTrainIds.png')
    assert out.dtype == np.uint8
    assert out.tolist() == [[1, 12, 80], [0, 0, 255]]


def test_coco_object_from_raw_maps(tmp_path):
    # raw = COCO category id - 1: 0 person, 11 unused id 12, 12 stop sign, 89 toothbrush,
    # 90 unused, 91 banner (stuff), 181 wood (stuff), 255 unlabelled
    raw = np.array([[0, 11, 12, 89], [90, 91, 181, 255]], dtype=np.uint8)
    Image.fromarray(raw).save(tmp_path / '000000000285.png')
    convert_coco_object(tmp_path, input_format='raw')
    out = read(tmp_path / '000000000285_instanceTrainIds.png')
    assert out.tolist() == [[1, 0, 12, 80], [0, 0, 0, 255]]
    assert len(RAW_THING_IDS) == 80 and RAW_THING_IDS[-1] == 89
    # A re-run must not take its own output (or mmseg's train-id maps) as raw input.
    Image.fromarray(np.zeros((2, 4), np.uint8)).save(tmp_path / '000000000285_labelTrainIds.png')
    assert convert_coco_object(tmp_path, input_format='raw') == ['unchanged']


def test_coco_object_refusal_and_cli(tmp_path, capsys):
    Image.fromarray(np.array([[0, 80]], np.uint8)).save(tmp_path / '1_labelTrainIds.png')
    tool = load_tool('coco_object')
    assert tool.main([str(tmp_path)]) == 0
    Image.fromarray(np.array([[9, 9]], np.uint8)).save(tmp_path / '1_instanceTrainIds.png')
    assert tool.main([str(tmp_path)]) == 1
    assert 'overwrite' in capsys.readouterr().err
    assert tool.main([str(tmp_path), '--overwrite']) == 0
    assert read(tmp_path / '1_instanceTrainIds.png').tolist() == [[1, 0]]
    assert tool.main([str(tmp_path / 'empty')]) == 1
