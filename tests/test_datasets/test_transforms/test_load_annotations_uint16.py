"""LoadAnnotationsUint16: exact 16-bit ids, reduce_zero_label and label_map with a configurable
ignore index, PNG and TIFF, both decoders, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from mmseg.registry import TRANSFORMS
from PIL import Image

LABEL = np.array([[0, 1, 2, 255], [256, 300, 846, 65535]], dtype=np.uint16)


def load(path, **kwargs):
    results = dict(seg_map_path=str(path), seg_fields=[])
    results.update(kwargs.pop('results', {}))
    return TRANSFORMS.build(dict(type='LoadAnnotationsUint16', **kwargs))(results)


@pytest.mark.parametrize('suffix', ['.png', '.tif'])
@pytest.mark.parametrize('backend', ['pillow', 'cv2'])
def test_exact_values(tmp_path, suffix, backend):
    path = tmp_path / f'label{suffix}'
    Image.fromarray(LABEL).save(path)
    out = load(path, imdecode_backend=backend)
    assert out['gt_seg_map'].dtype == np.uint16
    assert np.array_equal(out['gt_seg_map'], LABEL)
    assert out['seg_fields'] == ['gt_seg_map']


def test_uint8_maps_load_too(tmp_path):
    label = np.array([[0, 7, 255]], dtype=np.uint8)
    Image.fromarray(label).save(tmp_path / 'l.png')
    assert np.array_equal(load(tmp_path / 'l.png')['gt_seg_map'], label.astype(np.uint16))


def test_reduce_zero_label_uses_ignore_index(tmp_path):
    Image.fromarray(LABEL).save(tmp_path / 'l.png')
    out = load(tmp_path / 'l.png', results=dict(reduce_zero_label=True))['gt_seg_map']
    expected = np.array([[65535, 0, 1, 254], [255, 299, 845, 65535]])
    assert np.array_equal(out, expected)
    # With ignore 255 it reproduces mmseg's uint8 semantics on 8-bit values.
    out = load(tmp_path / 'l.png', ignore_index=255, results=dict(reduce_zero_label=True))
    assert out['gt_seg_map'][0].tolist() == [255, 0, 1, 255]


def test_label_map_with_ignore(tmp_path):
    Image.fromarray(LABEL).save(tmp_path / 'l.png')
    label_map = {i: 65535 for i in range(847)}
    label_map.update({846: 0, 255: 1, 256: 2})
    out = load(tmp_path / 'l.png', results=dict(label_map=label_map))['gt_seg_map']
    expected = np.array([[65535, 65535, 65535, 1], [2, 65535, 0, 65535]])
    assert np.array_equal(out, expected)


def test_reduce_then_label_map(tmp_path):
    Image.fromarray(LABEL).save(tmp_path / 'l.png')
    # after reduction: [[ig, 0, 1, 254], [255, 299, 845, ig]]; keep 1 -> 0 and 845 -> 1
    label_map = {i: 65535 for i in range(846)}
    label_map.update({1: 0, 845: 1})
    out = load(tmp_path / 'l.png', results=dict(reduce_zero_label=True, label_map=label_map))
    expected = np.full((2, 4), 65535)
    expected[0, 2] = 0
    expected[1, 2] = 1
    assert np.array_equal(out['gt_seg_map'], expected)


def test_errors(tmp_path):
    Image.fromarray(np.zeros((3, 4, 3), np.uint8)).save(tmp_path / 'rgb.png')
    with pytest.raises(ValueError, match='one channel'):
        load(tmp_path / 'rgb.png')
    Image.fromarray(LABEL).save(tmp_path / 'l.png')
    with pytest.raises(ValueError, match='disagrees with the dataset'):
        load(tmp_path / 'l.png', reduce_zero_label=True, results=dict(reduce_zero_label=False))
    with pytest.raises(ValueError, match=r'\[0, 65535\]'):
        TRANSFORMS.build(dict(type='LoadAnnotationsUint16', ignore_index=70000))


def test_a_bare_image_loads_nothing():
    # mmseg's inference_model removes only its own LoadAnnotations from the test pipeline
    transform = TRANSFORMS.build(dict(type='LoadAnnotationsUint16'))
    results = dict(img_path='x.png', seg_fields=[])
    assert transform(dict(results)) == results
