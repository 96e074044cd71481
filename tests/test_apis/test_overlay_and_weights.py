"""Overlay drawing, image reading, and checkpoint key reports."""

import numpy as np
import pytest
import torch
from PIL import Image

from mmpat.apis import load_model_weights, read_image
from mmpat.visualization import draw_overlay


def test_overlay_blends_colours_and_adds_legend():
    image = np.full((4, 6, 3), 100, np.uint8)
    labels = np.zeros((4, 6), np.int64)
    labels[:, 3:] = 1
    out = draw_overlay(image, labels, ['a', 'b'], [(0, 0, 0), (200, 0, 0)], opacity=0.5)
    assert out.shape[0] >= 4 and out.shape[1] > 6  # legend panel on the right
    np.testing.assert_array_equal(out[0, 0], [50, 50, 50])
    np.testing.assert_array_equal(out[0, 5], [150, 50, 50])
    with pytest.raises(ValueError, match='differ in size'):
        draw_overlay(image, labels[:2], ['a', 'b'], [(0, 0, 0), (1, 1, 1)])


def test_read_image_converts_modes(tmp_path):
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., 0] = 255
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'a.png')
    Image.fromarray(np.full((3, 4), 7, np.uint8), 'L').save(tmp_path / 'g.png')
    assert read_image(tmp_path / 'a.png').shape == (3, 4, 3)
    assert (read_image(tmp_path / 'g.png') == 7).all()
    assert read_image(np.zeros((3, 4), np.uint8)).shape == (3, 4, 3)
    (tmp_path / 'bad.png').write_bytes(b'not an image')
    with pytest.raises(ValueError, match='Cannot decode'):
        read_image(tmp_path / 'bad.png')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        read_image(tmp_path / 'none.png')


def test_checkpoint_keys_that_do_not_fit_are_explained(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    path = tmp_path / 'ddp.pth'
    torch.save({'state_dict': {f'module.{k}': v for k, v in model.state_dict().items()}}, path)
    with pytest.raises(ValueError, match='DDP-wrapped'):
        load_model_weights(model, str(path))
    other = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Linear(4, 1))
    torch.save({'state_dict': other.state_dict()}, path)
    with pytest.raises(ValueError, match=r'0.weight: checkpoint \(4, 2\) vs model \(3, 2\)'):
        load_model_weights(model, str(path))
    torch.save({'visual.proj': torch.zeros(1), 'token_embedding.weight': torch.zeros(1)}, path)
    with pytest.raises(ValueError, match='CLIP weights file'):
        load_model_weights(model, str(path))
    partial = {'0.weight': torch.ones(3, 2), '0.bias': torch.ones(3)}
    torch.save(partial, path)
    with pytest.warns(UserWarning, match='2 missing keys'):
        load_model_weights(model, str(path))
    assert torch.equal(model[0].weight, torch.ones(3, 2))
