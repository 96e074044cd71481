"""The scene generator: determinism, layout, label maps against the drawn objects, the
seen/unseen guarantees, and refusing to mix datasets."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmpat.datasets.scenes.generator import (
    COLOURS,
    SHAPES,
    SceneObject,
    ScenesExistError,
    class_names,
    generate_one,
    generate_scenes,
    shape_mask,
    unseen_classes,
)

TINY = dict(size=48, num_pretrain=6, num_train=5, num_val=10)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob('*'))
        if p.is_file()
    }


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope='module')
def scenes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('scenes') / 'scenes'
    generate_scenes(str(root), seed=0, progress=False, **TINY)
    return root


def test_same_seed_same_bytes_other_seed_differs(scenes, tmp_path):
    again = tmp_path / 'again'
    generate_scenes(str(again), seed=0, progress=False, workers=2, **TINY)
    assert tree_digest(again) == tree_digest(scenes)  # also: worker processes change nothing
    other = tmp_path / 'other'
    generate_scenes(str(other), seed=1, progress=False, **TINY)
    a, b = tree_digest(scenes), tree_digest(other)
    images = [k for k in a if k.startswith('img_dir/')]
    assert sum(a[k] != b[k] for k in images) == len(images)


def test_layout_and_meta(scenes):
    meta = json.loads((scenes / 'meta.json').read_text())
    assert meta['args'] == dict(seed=0, **TINY)
    assert meta['generator_version'] == '3'
    assert meta['classes'][0] == 'background'
    assert len(meta['classes']) == 1 + len(COLOURS) * len(SHAPES) >= 31
    assert len(meta['palette']) == len(meta['classes'])
    assert sorted(meta['seen'] + meta['unseen']) == sorted(meta['classes'][1:])
    assert len(meta['unseen']) == round(len(meta['classes'][1:]) / 5)
    for split, n in (('pretrain', 6), ('train', 5), ('val', 10)):
        names = sorted(p.name for p in (scenes / 'img_dir' / split).iterdir())
        assert names == [f'{i:06d}.png' for i in range(n)]
        img = np.array(Image.open(scenes / 'img_dir' / split / names[0]))
        assert img.shape == (48, 48, 3) and img.dtype == np.uint8
        # every split has label maps (pretrain's since version 3: the transductive setting)
        assert sorted(p.name for p in (scenes / 'ann_dir' / split).iterdir()) == names
        label = np.array(Image.open(scenes / 'ann_dir' / split / names[0]))
        assert label.shape == (48, 48) and label.dtype == np.uint8
    captions = read_jsonl(scenes / 'captions' / 'pretrain.jsonl')
    assert [c['image'] for c in captions] == [f'img_dir/pretrain/{i:06d}.png' for i in range(6)]
    assert all(
        len(c['captions']) >= 5 and all(isinstance(t, str) for t in c['captions']) for c in captions
    )


def test_label_maps_match_the_recorded_objects(scenes):
    meta = json.loads((scenes / 'meta.json').read_text())
    for split in ('pretrain', 'train', 'val'):
        for i, record in enumerate(read_jsonl(scenes / 'annotations' / f'{split}.jsonl')):
            label = np.array(Image.open(scenes / 'ann_dir' / split / f'{i:06d}.png'))
            counts = np.bincount(label.ravel(), minlength=len(meta['classes']))
            expected = np.zeros_like(counts)
            for obj in record['objects']:
                assert meta['classes'][obj['label']] == obj['name']
                expected[obj['label']] += obj['visible_pixels']
            expected[0] = label.size - expected[1:].sum()
            np.testing.assert_array_equal(counts, expected)
            # Re-draw the objects from their recorded geometry: later objects cover earlier ones.
            redrawn = np.zeros_like(label)
            for obj in record['objects']:
                colour, shape = obj['name'].split(' ')
                geometry = {k: obj[k] for k in ('cx', 'cy', 'radius', 'angle')}
                mask = shape_mask(SceneObject(obj['label'], colour, shape, **geometry), 48)
                redrawn[mask] = obj['label']
            assert (redrawn != label).mean() < 0.01  # recorded geometry is rounded to 1e-3


def test_scene_objects_are_visible_and_coloured():
    unseen = unseen_classes(0)
    seen = [c for c in class_names()[1:] if c not in unseen]
    for i in range(20):
        scene, captions = generate_one(0, 'val', i, 64, seen, unseen)
        names = [o.name for o in scene.objects]
        assert 1 <= len(names) <= 3 and len(set(names)) == len(names)
        for k, obj in enumerate(scene.objects):
            shown = scene.instance_map == k + 1
            assert shown.sum() == scene.visible_pixels[k] > 0
            assert (scene.label_map[shown] == obj.label).all()
            # The mean colour of an object is closest to its own colour word's RGB.
            mean = scene.image[shown].astype(float).mean(0)
            nearest = min(COLOURS, key=lambda c: np.linalg.norm(mean - np.array(COLOURS[c])))
            assert nearest == obj.colour
        assert f'a photo of {"an" if names[0][0] in "aeiou" else "a"} ' in captions[1]
        assert i % 5 != 0 or scene.dominant.name in unseen  # every 5th val image: unseen


def test_seen_unseen_guarantees(scenes):
    for seed in range(5):
        unseen = unseen_classes(seed)
        seen = [c for c in class_names()[1:] if c not in unseen]
        assert {c.split(' ')[0] for c in seen} == set(COLOURS)
        assert {c.split(' ')[1] for c in seen} == set(SHAPES)
    meta = json.loads((scenes / 'meta.json').read_text())
    unseen_labels = [meta['classes'].index(c) for c in meta['unseen']]

    def labels(split):
        return np.concatenate(
            [
                np.array(Image.open(p)).ravel()
                for p in sorted((scenes / 'ann_dir' / split).iterdir())
            ]
        )

    assert not np.isin(labels('train'), unseen_labels).any()
    assert np.isin(labels('val'), unseen_labels).sum() > 100
    # Pretrain captions mention unseen compositions too (larger sample, pure function).
    seen = meta['seen']
    named = set()
    for i in range(200):
        scene, _ = generate_one(0, 'pretrain', i, 32, seen, meta['unseen'])
        named |= {o.name for o in scene.objects}
    assert set(meta['unseen']) <= named and set(seen) <= named


def test_captions_teach_words_separately():
    unseen = unseen_classes(0)
    seen = [c for c in class_names()[1:] if c not in unseen]
    singles = multis = 0
    for i in range(30):
        scene, captions = generate_one(0, 'pretrain', i, 48, seen, unseen)
        text = ' | '.join(captions)
        for obj in scene.objects:  # every object's words, alone and composed
            assert f'{obj.colour} object' in captions[3]  # colour alone
            assert obj.shape in captions[4] and obj.colour not in captions[4]  # shape alone
            assert f'a {obj.shape} that is {obj.colour}' in text
            assert f'a {obj.name}' in text
        if len(scene.objects) == 1:
            singles += 1
            assert f'a photo of a {scene.objects[0].name}.' in captions  # the zero-shot prompt
        else:
            multis += 1
            assert ' and ' in captions[0]
            shapes = [o.shape for o in scene.objects]
            if len(set(shapes)) < len(shapes):  # counted and plural: 'two crosses'
                assert 'two ' in captions[4]
    assert singles and multis


def test_existing_folder_is_skipped_or_refused(scenes, tmp_path, capsys):
    before = tree_digest(scenes)
    meta = generate_scenes(str(scenes), seed=0, progress=True, **TINY)
    assert meta['skipped'] and 'nothing to do' in capsys.readouterr().out
    assert tree_digest(scenes) == before
    with pytest.raises(ScenesExistError, match='different generator arguments'):
        generate_scenes(str(scenes), seed=0, progress=False, **dict(TINY, num_val=11))
    with pytest.raises(ScenesExistError, match='different generator arguments'):
        generate_scenes(str(scenes), seed=3, progress=False, **TINY)
    assert tree_digest(scenes) == before
    other = tmp_path / 'not_scenes'
    other.mkdir()
    (other / 'thesis.tex').write_text('precious')
    with pytest.raises(ScenesExistError, match='no meta.json'):
        generate_scenes(str(other), progress=False, **TINY)
    assert (other / 'thesis.tex').read_text() == 'precious'


def _as_version_2(root: Path) -> None:
    """Turn a fresh folder into what version 2 wrote: no ann_dir/pretrain, version '2'."""
    shutil.rmtree(root / 'ann_dir' / 'pretrain')
    meta = json.loads((root / 'meta.json').read_text())
    (root / 'meta.json').write_text(json.dumps(dict(meta, generator_version='2'), indent=1))


def test_version_2_folder_is_upgraded_in_place(scenes, tmp_path, capsys):
    old = tmp_path / 'v2'
    generate_scenes(str(old), progress=False, **TINY)
    _as_version_2(old)
    before = tree_digest(old)
    assert not any(k.startswith('ann_dir/pretrain/') for k in before)
    meta = generate_scenes(str(old), progress=True, **TINY)
    assert meta['skipped'] and meta['generator_version'] == '3'
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1 and 'upgraded' in printed[0] and 'wrote 6 pretrain' in printed[0]
    after = tree_digest(old)
    # the same files as a fresh version-3 generation, meta.json included ...
    assert after == tree_digest(scenes)
    # ... and the version-2 files (images, captions, train/val) were not rewritten
    assert {k: after[k] for k in before if k != 'meta.json'} == {
        k: v for k, v in before.items() if k != 'meta.json'
    }
    assert generate_scenes(str(old), progress=True, **TINY)['skipped']
    assert 'nothing to do' in capsys.readouterr().out
    # an interrupted upgrade (some label maps written, meta.json still version 2) is resumed
    # with worker processes: only the missing label maps are written
    _as_version_2(old)
    (old / 'ann_dir' / 'pretrain').mkdir()
    for i in (0, 3):
        shutil.copy(scenes / 'ann_dir' / 'pretrain' / f'{i:06d}.png', old / 'ann_dir' / 'pretrain')
    generate_scenes(str(old), progress=True, workers=2, **TINY)
    assert 'wrote 4 pretrain' in capsys.readouterr().out
    assert tree_digest(old) == tree_digest(scenes)


def test_version_2_folder_incomplete_or_other_versions_are_refused(tmp_path):
    out = tmp_path / 'v2'
    generate_scenes(str(out), progress=False, **TINY)
    _as_version_2(out)
    (out / 'img_dir' / 'val' / '000009.png').unlink()
    with pytest.raises(ScenesExistError, match='files are missing'):
        generate_scenes(str(out), progress=False, **TINY)
    assert not (out / 'ann_dir' / 'pretrain').exists()
    with pytest.raises(ScenesExistError, match='different generator arguments'):
        generate_scenes(str(out), progress=False, **dict(TINY, num_val=9))
    meta = json.loads((out / 'meta.json').read_text())
    (out / 'meta.json').write_text(json.dumps(dict(meta, generator_version='1')))
    with pytest.raises(ScenesExistError, match='version 1, asked .* version 3'):
        generate_scenes(str(out), progress=False, **TINY)


def test_cli(tmp_path):
    from tools.dataset_converters.gen_scenes import main

    out = tmp_path / 'cli'
    argv = ['--out', str(out), '--size', '40', '--num-pretrain', '2', '--num-train', '2']
    assert main(argv + ['--num-val', '2', '--no-progress']) == 0
    assert json.loads((out / 'meta.json').read_text())['args']['size'] == 40
    assert main(argv + ['--num-val', '3', '--no-progress']) == 2  # refused, clear message
    assert main(argv + ['--num-val', '3', '--no-progress', '--force']) == 0
    assert len(list((out / 'img_dir' / 'val').iterdir())) == 3


def test_incomplete_and_interrupted_folders(tmp_path):
    out = tmp_path / 'scenes'
    generate_scenes(str(out), progress=False, **TINY)
    before = tree_digest(out)
    (out / 'ann_dir' / 'val' / '000009.png').unlink()
    with pytest.raises(ScenesExistError, match='files are missing'):
        generate_scenes(str(out), progress=False, **TINY)
    # An interrupted run (marker, no meta.json) with the same arguments is written over ...
    (out / 'meta.json').unlink()
    (out / '.generating.json').write_text(json.dumps(dict(seed=0, **TINY)))
    assert not generate_scenes(str(out), progress=False, **TINY)['skipped']
    assert tree_digest(out) == before
    # ... but not one with other arguments.
    (out / 'meta.json').unlink()
    (out / '.generating.json').write_text(json.dumps(dict(seed=0, **dict(TINY, size=64))))
    with pytest.raises(ScenesExistError, match='unfinished generation with different arguments'):
        generate_scenes(str(out), progress=False, **TINY)
    with pytest.raises(ValueError, match='size must be at least 32'):
        generate_scenes(str(tmp_path / 'small'), size=16, progress=False)
