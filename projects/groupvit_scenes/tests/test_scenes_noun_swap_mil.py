"""Noun swaps (caption heuristic), NounSwapMILLoss against a loop reference, model wiring."""

from __future__ import annotations

import math
import random

import pytest
import torch
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from scenes_models import pretrain_cfg

from projects.groupvit_scenes.groupvit_scenes import NounSwapMILLoss
from projects.groupvit_scenes.groupvit_scenes.noun_swaps import noun_swaps


def test_noun_swaps_keep_adjectives_and_skip_own_and_generic_nouns():
    vocab = ['circle', 'square', 'star', 'object', 'cat']
    swaps = noun_swaps('big red circle', vocab, exclude=['circle', 'cat'], num_swaps=5)
    assert sorted(swaps) == ['big red square', 'big red star']  # no 'object', no own 'cat'
    assert noun_swaps('red object', vocab, exclude=[], num_swaps=3) == []  # any noun may be true
    assert len(noun_swaps('dog', vocab, exclude=[], num_swaps=2, rng=random.Random(0))) == 2
    assert noun_swaps('dog', ['dog'], exclude=[], num_swaps=2) == []


def reference(tokens, prompts, swaps, mask, image, scale):
    """The module docstring's formula with loops."""

    def score(b, text):
        text = text / text.norm()
        return scale * max(float(t / t.norm() @ text) for t in tokens[b])

    total, count = 0.0, 0
    for p in range(len(prompts)):
        if not mask[p].any():
            continue
        logits = [score(image[p], prompts[p])]
        logits += [score(image[p], swaps[p, m]) for m in range(swaps.shape[1]) if mask[p, m]]
        total += -logits[0] + math.log(sum(math.exp(v) for v in logits))
        count += 1
    return total / count


def test_noun_swap_loss_matches_loop_reference_and_prefers_the_true_noun():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(2, 4, 6, generator=g)
    prompts, swaps = torch.randn(3, 6, generator=g), torch.randn(3, 2, 6, generator=g)
    mask = torch.tensor([[True, True], [True, False], [False, False]])
    image = torch.tensor([1, 0, 0])
    loss_fn = NounSwapMILLoss(num_swaps=2, loss_weight=2.0)
    out = loss_fn(tokens, prompts, swaps, mask, image, torch.tensor(math.log(3.0)))
    expected = 2.0 * reference(tokens, prompts, swaps, mask, image, 3.0)
    assert out['loss_noun_swap'].item() == pytest.approx(expected, rel=1e-5)
    # one token equal to the prompt and orthogonal to its swaps: the loss goes to ~0
    tokens[1, 2] = 10 * prompts[0]
    swaps[0] = swaps[0] - (swaps[0] @ prompts[0])[:, None] * prompts[0] / prompts[0].norm() ** 2
    tokens[1, [0, 1, 3]] = -tokens[1, 2]
    low = loss_fn(tokens, prompts[:1], swaps[:1], mask[:1], image[:1], torch.tensor(5.0))
    assert low['loss_noun_swap'] < 1e-3
    none = loss_fn(tokens, prompts, swaps, torch.zeros_like(mask), image, torch.tensor(1.0))
    assert none['loss_noun_swap'] == 0
    with pytest.raises(ValueError, match='need \\[P, M'):
        loss_fn(tokens, prompts, swaps[:2], mask, image, torch.tensor(1.0))


def test_noun_swap_loss_instance_mask_skips_instances():
    g = torch.Generator().manual_seed(1)
    tokens = torch.randn(2, 4, 6, generator=g)
    prompts, swaps = torch.randn(3, 6, generator=g), torch.randn(3, 2, 6, generator=g)
    mask = torch.ones(3, 2, dtype=torch.bool)
    image = torch.tensor([1, 0, 1])
    keep = torch.tensor([[True, False, True, True], [False, True, True, False]])
    loss_fn = NounSwapMILLoss(num_swaps=2)
    out = loss_fn(tokens, prompts, swaps, mask, image, torch.tensor(1.0), instance_mask=keep)
    # masked instances behave as if absent: the loop reference on the kept tokens only
    expected = 0.0
    for p in range(3):
        b = int(image[p])
        expected += reference(tokens[b : b + 1, keep[b]], prompts[p : p + 1], swaps[p : p + 1],
                              mask[p : p + 1], torch.tensor([0]), math.e)  # fmt: skip
    assert out['loss_noun_swap'].item() == pytest.approx(expected / 3, rel=1e-5)
    unmasked = loss_fn(tokens, prompts, swaps, mask, image, torch.tensor(1.0))
    assert unmasked['loss_noun_swap'].item() != pytest.approx(expected / 3, rel=1e-3)
    with pytest.raises(ValueError, match='instance_mask'):
        loss_fn(tokens, prompts, swaps, mask, image, torch.tensor(1.0), instance_mask=keep[:1])


def test_pretrain_noun_swap_texts_and_gradient():
    torch.manual_seed(0)
    model = MODELS.build(
        pretrain_cfg(
            num_prompts=2,
            noun_phrases=True,
            noun_swap_loss=dict(type='NounSwapMILLoss', num_swaps=3),
        )
    )
    captions = ['a red circle and a blue star', 'a green square', 'a yellow object']
    phrases = [[('a {}.', 'red circle'), ('a {}.', 'blue star')], [('x {}', 'green square')], []]
    texts, slots = model.extension.noun_swap_texts(model, captions, phrases)
    # vocabulary {circle, star, square, object}: own nouns and 'object' never swapped in
    assert texts == ['a red square.', 'a blue square.', 'x green circle', 'x green star']
    assert slots.tolist() == [0, 3, 6, 7]  # [B=3, K=2, M=3] layout
    model.train()
    samples = [SegDataSample(metainfo=dict(caption=c)) for c in captions]
    losses = model.loss(torch.randn(3, 3, 64, 64), samples)
    assert losses['loss_noun_swap'] > 0
    losses['loss_noun_swap'].backward()
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert model.text_encoder.token_embedding.weight.grad.abs().sum() > 0


def test_pretrain_group_noun_swap_reaches_groups_and_checks_num_swaps(pretrain_losses):
    swap = dict(type='NounSwapMILLoss', num_swaps=3, loss_name='loss_group_noun_swap')
    model, losses = pretrain_losses(group_noun_swap_loss=swap)
    assert 'loss_noun_swap' not in losses and losses['loss_group_noun_swap'] > 0
    losses['loss_group_noun_swap'].backward()
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert model.extension.token_projector is None  # the group term needs no token projector
    cfg = dict(group_noun_swap_loss=swap)
    with pytest.raises(ValueError, match='same num_swaps'):
        MODELS.build(pretrain_cfg(**cfg, noun_swap_loss=dict(type='NounSwapMILLoss', num_swaps=2)))
    with pytest.raises(ValueError, match='num_prompts > 0'):
        MODELS.build(pretrain_cfg(**cfg, num_prompts=0))
