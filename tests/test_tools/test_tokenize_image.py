"""tools/tokenize_image.py on a tiny PAT model (random 'ViT-test' CLIP): a subprocess run from
another folder writes the figure, the reconstruction, the level maps and the indices."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.pat_models import TINY_PAT_OPTIONS
from helpers.tools import run_tool
from mmengine.config import Config
from PIL import Image

from mmpat.apis import init_tokenizer

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / 'tests/data/tiny_seg/img_dir/val/001.png'  # 64x64


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'tokenize_image', ROOT / 'tools/tokenize_image.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """A dumped tiny PAT config and a checkpoint of its model."""
    folder = tmp_path_factory.mktemp('tokenize')
    cfg = Config.fromfile(str(ROOT / 'configs/pat/pat_clip-tiny_scenes.py'))
    cfg.merge_from_dict(TINY_PAT_OPTIONS)
    config = folder / 'pat_tiny.py'
    cfg.dump(str(config))
    torch.manual_seed(0)
    model = init_tokenizer(config)
    checkpoint = folder / 'pat_tiny.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    return config, checkpoint


def test_tool_writes_the_pictures_and_indices(tiny, tmp_path):
    config, checkpoint = tiny
    out = tmp_path / 'tokens'
    args = [sys.executable, str(ROOT / 'tools/tokenize_image.py'), str(config), str(checkpoint)]
    result = run_tool([*args, str(IMAGE), '--out', 'tokens', '--device', 'cpu'], cwd=tmp_path)
    for name in ['tokens.png', 'reconstruction.png', 'indices.npz']:
        assert (out / name).is_file() and f'wrote tokens/{name}' in result.stdout
    assert Image.open(out / 'reconstruction.png').size == (64, 64)
    for level in range(4):
        picture = Image.open(out / f'tokens_level{level}.png')
        assert picture.size == (64, 64) and picture.mode == 'RGB'
    figure = Image.open(out / 'tokens.png')
    assert figure.size[0] > 6 * 128 and figure.size[1] > 128  # 6 panels, shown at 128 px
    indices = np.load(out / 'indices.npz')
    assert sorted(indices) == ['level0', 'level1', 'level2', 'level3']
    sizes = [(32, 32), (16, 16), (8, 8), (4, 4)]
    for level, (k, size) in enumerate(zip([16, 8, 8, 4], sizes)):
        array = indices[f'level{level}']
        assert array.shape == size and array.dtype == np.int64 and 0 <= array.min() < k
        assert array.max() < k
        used = len(np.unique(array))
        assert f'level {level}: ' in result.stdout and f'{used} of {k} codes used' in result.stdout


def test_tool_errors_are_one_line(tiny, tmp_path, capsys):
    config, checkpoint = tiny
    tool = load_tool()
    baseline = str(ROOT / 'configs/pat/pat-baseline_clip-tiny_scenes.py')
    cases = [
        ([baseline, str(checkpoint), str(IMAGE)], 'no PyramidTokenizer neck'),
        ([str(config), str(checkpoint), str(tmp_path / 'nope.png')], "'.*nope.png' does not"),
        ([str(config), str(tmp_path / 'nope.pth'), str(IMAGE)], "'.*nope.pth' does not exist"),
        ([str(tmp_path / 'nope.py'), str(checkpoint), str(IMAGE)], "'.*nope.py' does not exist"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit, match=f'^error: .*{message}'):
            tool.main([*args, '--out', str(tmp_path / 'out')])
    assert not (tmp_path / 'out').exists()
