"""OpenVocabInferencer and the image demo on a tiny random-weight dense-CLIP model."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmpat.apis import OpenVocabInferencer

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'tests/data/configs/dense-clip_vit-test_tiny-seg.py'
IMAGE = ROOT / 'tests/data/tiny_seg/img_dir/val/000.png'


@pytest.fixture(scope='module')
def inferencer():
    torch.manual_seed(0)
    return OpenVocabInferencer(str(CONFIG), device='cpu')


def test_single_image_with_synonyms_and_overlay(inferencer, tmp_path):
    out = tmp_path / 'overlay.png'
    result = inferencer(str(IMAGE), 'square; disc, circle; background', out_file=str(out))
    assert result['classes'] == ['square', 'disc', 'background']
    assert result['label_map'].shape == (64, 64) and result['label_map'].max() < 3
    assert ((result['scores'] > 0) & (result['scores'] <= 1)).all()
    assert Image.open(out).size[1] == 64 and Image.open(out).size[0] > 64


def test_results_match_the_model_and_vocabulary_changes(inferencer):
    image = np.asarray(Image.open(IMAGE).convert('RGB'))
    first = inferencer(image, ['square', 'disc'])
    again = inferencer([image, str(IMAGE)], ['square', 'disc'])
    np.testing.assert_array_equal(first['label_map'], again[0]['label_map'])
    np.testing.assert_array_equal(again[0]['label_map'], again[1]['label_map'])
    three = inferencer(image, ['square', 'disc', 'sky'])
    assert three['classes'] == ['square', 'disc', 'sky'] and inferencer.model.num_classes == 3


def test_grayscale_and_rgba_inputs(inferencer):
    gray = np.full((40, 50), 128, np.uint8)
    rgba = np.zeros((40, 50, 4), np.uint8)
    assert inferencer(gray, ['a', 'b'])['label_map'].shape == (40, 50)
    assert inferencer(rgba, ['a', 'b'])['label_map'].shape == (40, 50)


def test_bad_inputs(inferencer, tmp_path):
    with pytest.raises(ValueError, match='empty'):
        inferencer(str(IMAGE), '')
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'\x00' * 10)
    with pytest.raises(ValueError, match='Cannot decode'):
        inferencer(str(bad), ['a', 'b'])
    with pytest.raises(FileNotFoundError, match='does not exist'):
        OpenVocabInferencer(str(tmp_path / 'missing.py'))


def test_demo_cli(tmp_path):
    out = tmp_path / 'demo.png'
    command = [
        sys.executable,
        str(ROOT / 'demo/image_demo.py'),
        str(IMAGE),
        str(CONFIG),
        '--vocab',
        'square; disc, circle; background',
        '--out',
        str(out),
        '--device',
        'cpu',
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'overlay written to' in result.stdout and out.is_file()
    bad = subprocess.run(command[:-4] + ['--vocab', ' ; '], capture_output=True, text=True)
    assert bad.returncode != 0 and 'error:' in bad.stderr and 'Traceback' not in bad.stderr
