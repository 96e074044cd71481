"""GroupViT contrastive losses: values vs a plain reference, and 2-process == 1-process."""

from __future__ import annotations

import math
import random

import pytest
import torch
from helpers.two_processes import run_in_two_processes

from mmpat.models.losses import GroupViTContrastiveLoss, extract_nouns, multi_label_prompts

B, K, DIN, D = 3, 2, 6, 5


def make_data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        images=torch.randn(2 * B, DIN, generator=g),
        texts=torch.randn(2 * B, DIN, generator=g),
        prompts=torch.randn(2 * B, K, DIN, generator=g),
        weight=torch.randn(D, DIN, generator=g),
    )


def run_loss(data, rows, loss_fn):
    """Loss and gradients of a shared linear encoder on the given batch rows."""
    weight = data['weight'].clone().requires_grad_(True)
    scale = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    ml_scale = torch.tensor(math.log(1 / 0.05), requires_grad=True)
    losses = loss_fn(
        data['images'][rows] @ weight.t(),
        data['texts'][rows] @ weight.t(),
        scale,
        data['prompts'][rows] @ weight.t(),
        ml_scale,
    )
    total = sum(losses.values())
    total.backward()
    return dict(
        loss=total.detach(),
        itc=losses['loss_itc'].detach(),
        grads=torch.cat([weight.grad.flatten(), scale.grad[None], ml_scale.grad[None]]),
    )


def reference_losses(img, txt, prompts, s, s_ml):
    """The paper's losses (docs/methods/groupvit.md) written with loops."""
    n = img.shape[0]
    img = img / img.norm(dim=-1, keepdim=True)
    txt = txt / txt.norm(dim=-1, keepdim=True)
    prompts = prompts / prompts.norm(dim=-1, keepdim=True)
    i2t = sum(-torch.log_softmax(s * img[i] @ txt.t(), 0)[i] for i in range(n)) / n
    t2i = sum(-torch.log_softmax(s * txt[i] @ img.t(), 0)[i] for i in range(n)) / n
    flat = prompts.reshape(n * K, -1)
    ml_i2t = 0
    for i in range(n):
        logp = torch.log_softmax(s_ml * img[i] @ flat.t(), 0)
        ml_i2t = ml_i2t - sum(logp[i * K + k] / K for k in range(K))
    ml_t2i = sum(-torch.log_softmax(s_ml * flat[j] @ img.t(), 0)[j // K] for j in range(n * K))
    return 0.5 * (i2t + t2i), 0.5 * (ml_i2t / n + ml_t2i / (n * K))


def test_single_process_matches_reference():
    data = make_data()
    loss_fn = GroupViTContrastiveLoss()
    w = data['weight']
    out = loss_fn(
        data['images'] @ w.t(),
        data['texts'] @ w.t(),
        torch.tensor(math.log(1 / 0.07)),
        data['prompts'] @ w.t(),
        torch.tensor(math.log(1 / 0.05)),
    )
    itc, ml = reference_losses(
        data['images'] @ w.t(), data['texts'] @ w.t(), data['prompts'] @ w.t(), 1 / 0.07, 20.0
    )
    assert torch.allclose(out['loss_itc'], itc, atol=1e-5)
    assert torch.allclose(out['loss_multi_label'], ml, atol=1e-5)
    # exp(logit_scale) is clamped at 100
    big = loss_fn(data['images'] @ w.t(), data['texts'] @ w.t(), torch.tensor(10.0))
    ref_big, _ = reference_losses(
        data['images'] @ w.t(), data['texts'] @ w.t(), data['prompts'] @ w.t(), 100.0, 1.0
    )
    assert set(big) == {'loss_itc'}
    assert torch.allclose(big['loss_itc'], ref_big, atol=1e-5)


def _rank_loss(rank, world):
    return run_loss(make_data(), slice(rank * B, (rank + 1) * B), GroupViTContrastiveLoss())


def test_two_processes_equal_single_process(tmp_path):
    distributed = run_in_two_processes(_rank_loss, tmp_path)
    single = run_loss(make_data(), slice(0, 2 * B), GroupViTContrastiveLoss())
    assert torch.allclose(distributed['loss'], single['loss'], atol=1e-5)
    assert torch.allclose(distributed['itc'], single['itc'], atol=1e-5)
    assert torch.allclose(distributed['grads'], single['grads'], atol=1e-5)
    # without the gathered negatives the result would differ
    local = run_loss(make_data(), slice(0, B), GroupViTContrastiveLoss())
    assert not torch.allclose(local['loss'], single['loss'], atol=1e-3)


@pytest.mark.parametrize(
    'caption, nouns',
    [
        ('a blue square and a yellow triangle', ['square', 'triangle']),
        ('Two dogs playing on the grass in a park.', ['dogs', 'grass', 'park']),
        ('A man riding a horse near the beach', ['man', 'horse', 'beach']),
        ('a building with very tall windows', ['building', 'windows']),
        ('there is a red star in this picture.', ['star']),
        ('it is what it is', []),
    ],
)
def test_noun_extractor(caption, nouns):
    assert extract_nouns(caption) == nouns


def test_prompts_pad_with_caption_and_fall_back():
    rng = random.Random(0)
    templates = ['a photo of a {}.', 'a drawing of the {}.']
    prompts = multi_label_prompts('a red circle', 3, templates, rng)
    assert len(prompts) == 3
    assert prompts[0] in {'a photo of a circle.', 'a drawing of the circle.'}
    assert prompts[1:] == ['a red circle', 'a red circle']
    assert multi_label_prompts('it is what it is', 2, templates, rng) == ['it is what it is'] * 2
    many = multi_label_prompts('a cat, a dog, a tree and a car', 2, templates, rng)
    assert len(many) == 2 and all('{}' not in p for p in many)


@pytest.mark.parametrize(
    'caption, phrases',
    [
        ('a blue square and a yellow triangle', ['blue square', 'yellow triangle']),
        ('A big brown dog running on green grass', ['big brown dog', 'green grass']),
        ('a circle that is red', ['circle']),  # the adjective does not precede the noun
        ('two red objects', ['red objects']),
        ('it is what it is', []),
    ],
)
def test_noun_phrases_keep_leading_adjectives(caption, phrases):
    assert extract_nouns(caption, with_adjectives=True) == phrases


def test_prompts_from_noun_phrases():
    prompts = multi_label_prompts(
        'a red circle and a blue star',
        2,
        ['a photo of a {}.'],
        random.Random(0),
        with_adjectives=True,
    )
    assert sorted(prompts) == ['a photo of a blue star.', 'a photo of a red circle.']
