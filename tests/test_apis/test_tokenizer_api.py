"""The standalone tokenizer API on a tiny PAT model (random 'ViT-test' CLIP, tiny channels)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.pat_models import TINY_PAT_OPTIONS
from PIL import Image

from mmpat.apis import (
    TokenizedImage,
    TokenizerConfigError,
    code_colours,
    init_tokenizer,
    token_map_picture,
    tokenize_image,
    tokenizer_figure,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs/pat/pat_clip-tiny_scenes.py'
BASELINE = ROOT / 'configs/pat/pat-baseline_clip-tiny_scenes.py'
IMAGE = ROOT / 'tests/data/tiny_seg/img_dir/val/000.png'  # 64x64 RGB
# One x2 stage of the pixel head gives a 64 px reconstruction.
TINY = {**TINY_PAT_OPTIONS, 'model.auxiliary_head.num_upsample': 1}
SIZES = [(32, 32), (16, 16), (8, 8), (4, 4)]


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = init_tokenizer(CONFIG, cfg_options=TINY)
    path = tmp_path_factory.mktemp('tokenizer') / 'pat_tiny.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='module')
def model(checkpoint):
    torch.manual_seed(1)  # other random weights: the checkpoint must replace them
    return init_tokenizer(str(CONFIG), str(checkpoint), device='cpu', cfg_options=TINY)


def rgb() -> np.ndarray:
    return np.asarray(Image.open(IMAGE).convert('RGB'))


def test_checkpoint_is_loaded(model, checkpoint):
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    for level in range(4):
        key = f'neck.quantizers.{level}.codebook'
        assert torch.equal(model.state_dict()[key], state[key])
    assert not model.training and model.cfg.model.neck.type == 'PyramidTokenizer'


def test_indices_reconstruction_and_image(model):
    tokens = tokenize_image(model, str(IMAGE))
    assert isinstance(tokens, TokenizedImage) and tokens.num_levels == 4
    assert tokens.codebook_sizes == [16, 8, 8, 4]
    assert [tuple(t.shape) for t in tokens.indices] == SIZES
    for level, size in zip(tokens.indices, tokens.codebook_sizes):
        assert level.dtype == torch.long and 0 <= int(level.min()) and int(level.max()) < size
    assert tokens.reconstruction.shape == (64, 64, 3) and tokens.reconstruction.dtype == np.uint8
    np.testing.assert_array_equal(tokens.image, rgb())  # no resize in the scenes test pipeline
    assert all(1 <= n <= k for n, k in zip(tokens.codes_used(), tokens.codebook_sizes))


def test_same_image_same_tokens_and_no_codebook_update(model):
    model.train()  # tokenize_image switches to eval for the call and restores the mode
    before = {k: v.clone() for k, v in model.neck.state_dict().items()}
    first = tokenize_image(model, str(IMAGE))
    second = tokenize_image(model, rgb())  # a path and the RGB array: the same input
    assert model.training
    model.eval()
    for a, b in zip(first.indices, second.indices):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(first.reconstruction, second.reconstruction)
    for key, value in model.neck.state_dict().items():
        assert torch.equal(value, before[key]), key  # codebooks, EMA statistics, step


def test_reconstruction_is_denormalised_in_rgb(model, monkeypatch):
    head = model.auxiliary_head
    monkeypatch.setattr(head, 'forward', lambda feats: feats['images'])  # the normalised input
    tokens = tokenize_image(model, rgb())
    difference = np.abs(tokens.reconstruction.astype(int) - rgb().astype(int))
    assert difference.max() <= 1  # mean/std undone, BGR->RGB order kept


def test_grayscale_input_and_no_pixel_head(checkpoint):
    model = init_tokenizer(CONFIG, checkpoint, cfg_options={**TINY, 'model.auxiliary_head': None})
    tokens = tokenize_image(model, np.full((48, 40), 128, np.uint8))
    assert tokens.reconstruction is None and tokens.image.shape == (48, 40, 3)
    assert [tuple(t.shape) for t in tokens.indices] == [(24, 20), (12, 10), (6, 5), (3, 3)]
    figure = tokenizer_figure(tokens)
    assert figure.dtype == np.uint8 and figure.shape[2] == 3


def test_errors(model, tmp_path):
    with pytest.raises(TokenizerConfigError, match=r'no PyramidTokenizer neck.*neck=None'):
        init_tokenizer(BASELINE)  # refused before building
    with pytest.raises(TokenizerConfigError, match="neck of type 'FPN'"):
        init_tokenizer(CONFIG, cfg_options={**TINY, 'model.neck': dict(type='FPN')})
    with pytest.raises(FileNotFoundError, match='does not exist'):
        init_tokenizer(tmp_path / 'missing.py')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        init_tokenizer(CONFIG, str(tmp_path / 'missing.pth'), cfg_options=TINY)
    with pytest.raises(FileNotFoundError, match="Image '.*nope.png' does not exist"):
        tokenize_image(model, str(tmp_path / 'nope.png'))
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'\x00' * 10)
    with pytest.raises(ValueError, match='Cannot decode'):
        tokenize_image(model, bad)
    neck, model.neck = model.neck, None
    try:
        with pytest.raises(TokenizerConfigError, match='neck=None'):
            tokenize_image(model, rgb())
    finally:
        model.neck = neck


def test_colours_are_a_fixed_function_of_the_code():
    codes = np.arange(64)
    colours = code_colours(codes)
    assert colours.shape == (64, 3) and colours.dtype == np.uint8
    assert len({tuple(c) for c in colours}) == 64  # distinct codes, distinct colours
    np.testing.assert_array_equal(code_colours(torch.tensor([[5, 7]]))[0], colours[[5, 7]])
    maps = [torch.tensor([[0, 1], [2, 3]]), np.array([[5]])]
    pictures = token_map_picture(maps, (4, 6))
    assert pictures.shape == (2, 4, 6, 3) and pictures.dtype == np.uint8
    np.testing.assert_array_equal(pictures[0, :2, :3], np.broadcast_to(colours[0], (2, 3, 3)))
    np.testing.assert_array_equal(pictures[0, 2:, 3:], np.broadcast_to(colours[3], (2, 3, 3)))
    assert (pictures[1] == colours[5]).all()
    assert token_map_picture(torch.zeros(1, 3, 3, dtype=torch.long)).shape == (1, 3, 3, 3)


def test_figure_has_all_panels(model):
    tokens = tokenize_image(model, str(IMAGE))
    figure = tokenizer_figure(tokens)
    assert figure.dtype == np.uint8 and figure.ndim == 3 and figure.shape[2] == 3
    # 64 px images are shown at 128 px: input, reconstruction and 4 levels side by side
    assert figure.shape[1] >= 6 * 128 and 128 < figure.shape[0] < 200
    level0 = token_map_picture(tokens.indices, (128, 128))[0]
    top, left = 34, 4 + 2 * (128 + 4)  # below the labels; the third panel, 4 px gaps
    np.testing.assert_array_equal(figure[top : top + 128, left : left + 128], level0)
