"""PAMR against a per-pixel loop written from the paper's formula; its properties; PAMR in
DenseCLIPHead and in slide inference (the head refines each crop with that crop's pixels)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmpat.models.decode_heads import DenseCLIPHead
from mmpat.models.segmentors import OpenVocabEncoderDecoder
from mmpat.models.utils import PAMR


def naive_pamr(scores: np.ndarray, image: np.ndarray, dilations, iterations: int) -> np.ndarray:
    """Loops over pixels: 8 neighbours per dilation (coordinates clamped at the borders),
    sigma over the pixel and its neighbours, kernel -|dI| / sigma averaged over channels,
    softmax over the neighbours, then ``iterations`` weighted averages."""
    batch, _, height, width = scores.shape
    ring = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    offsets = [(dy * d, dx * d) for d in dilations for dy, dx in ring]

    def at(i, j, dy, dx):
        return min(max(i + dy, 0), height - 1), min(max(j + dx, 0), width - 1)

    weights = np.zeros((batch, len(offsets), height, width))
    for b in range(batch):
        for i in range(height):
            for j in range(width):
                near = np.array([image[b, :, a, c] for a, c in (at(i, j, *o) for o in offsets)])
                window = np.concatenate([image[b, :, i, j][None], near])  # [1 + K, 3]
                sigma = window.std(axis=0)
                kernel = (-np.abs(near - image[b, :, i, j]) / (sigma + 1e-8)).mean(axis=1)
                e = np.exp(kernel - kernel.max())
                weights[b, :, i, j] = e / e.sum()
    for _ in range(iterations):
        refined = np.zeros_like(scores)
        for b in range(batch):
            for i in range(height):
                for j in range(width):
                    for n, offset in enumerate(offsets):
                        a, c = at(i, j, *offset)
                        refined[b, :, i, j] += weights[b, n, i, j] * scores[b, :, a, c]
        scores = refined
    return scores


@pytest.mark.parametrize('dilations', [(1, 2), (3, 16)])
def test_pamr_matches_the_pixel_loop(dilations):
    torch.manual_seed(0)
    image = torch.randn(2, 3, 7, 9)
    scores = torch.randn(2, 4, 7, 9)
    got = PAMR(iterations=3, dilations=dilations)(scores, image)
    expected = naive_pamr(scores.double().numpy(), image.double().numpy(), dilations, 3)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_constant_image_gives_the_plain_neighbour_average():
    scores = torch.randn(1, 3, 6, 8)
    image = torch.full((1, 3, 6, 8), 0.7)
    got = PAMR(iterations=1, dilations=(1,))(scores, image)
    padded = torch.nn.functional.pad(scores, (1, 1, 1, 1), mode='replicate')
    windows = padded.unfold(2, 3, 1).unfold(3, 3, 1)  # [1, 3, 6, 8, 3, 3]
    ring_mean = (windows.sum(dim=(-1, -2)) - scores) / 8
    torch.testing.assert_close(got, ring_mean)


def test_distributions_stay_distributions_and_edges_are_kept():
    torch.manual_seed(1)
    image = torch.zeros(1, 3, 12, 12)
    image[..., 6:] = 1.0  # two flat halves
    probs = torch.rand(1, 2, 12, 12).softmax(dim=1)
    out = PAMR(iterations=10, dilations=(1, 2))(probs, image)
    torch.testing.assert_close(out.sum(dim=1), torch.ones(1, 12, 12))
    assert out.min() >= 0
    # Colour edges block the averaging: left and right halves become flat on their own.
    left, right = out[..., :6], out[..., 6:]
    assert left.std(dim=(2, 3)).max() < probs[..., :6].std(dim=(2, 3)).min()
    assert not torch.allclose(left.mean(dim=(2, 3)), right.mean(dim=(2, 3)), atol=1e-3)


def test_pamr_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match='resize the scores'):
        PAMR()(torch.randn(1, 3, 4, 4), torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match='iterations'):
        PAMR(iterations=0)
    with pytest.raises(ValueError, match='dilations'):
        PAMR(dilations=())


def _head_inputs():
    torch.manual_seed(0)
    texts = torch.nn.functional.normalize(torch.randn(3, 8), dim=1)
    return dict(dense=torch.randn(2, 8, 4, 5), class_embeddings=texts)


def test_head_refines_upsampled_logits_with_the_images():
    inputs = _head_inputs()
    images = torch.randn(2, 3, 16, 20)
    plain = DenseCLIPHead(num_classes=3)(inputs)
    head = DenseCLIPHead(num_classes=3, pamr=dict(iterations=2, dilations=(1, 2)))
    assert not list(head.state_dict().keys() - DenseCLIPHead(num_classes=3).state_dict().keys())
    got = head(dict(inputs, images=images))
    upsampled = torch.nn.functional.interpolate(plain, size=(16, 20), mode='bilinear')
    assert got.shape == (2, 3, 16, 20)
    torch.testing.assert_close(got, PAMR(iterations=2, dilations=(1, 2))(upsampled, images))
    with pytest.raises(ValueError, match=r"inputs\['images'\]"):
        head(inputs)


def test_slide_inference_hands_the_head_each_crop():
    torch.manual_seed(0)
    model = OpenVocabEncoderDecoder(
        backbone=dict(type='CLIPPyramid', preset='ViT-test', out_indices=(2,)),
        text_encoder=dict(type='OpenCLIPTextEncoder', preset='ViT-test', templates='simple'),
        decode_head=dict(type='DenseCLIPHead', pamr=dict(iterations=1, dilations=(1,))),
        class_names=['cat', 'dog', 'sky'],
        test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)),
    ).eval()
    seen = []
    pamr_forward = model.decode_head.pamr.forward
    model.decode_head.pamr.forward = lambda s, i: (seen.append(i), pamr_forward(s, i))[1]
    image = torch.randn(1, 3, 48, 64)
    meta = dict(img_shape=(48, 64), ori_shape=(48, 64))
    with torch.no_grad():
        logits = model.inference(image, [meta])
    assert logits.shape == (1, 3, 48, 64)
    crops = [image[..., y : y + 32, x : x + 32] for y in (0, 16) for x in (0, 16, 32)]
    assert len(seen) == len(crops)
    assert all(torch.equal(a, b) for a, b in zip(seen, crops))
