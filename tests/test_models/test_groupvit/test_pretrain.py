"""Grouping assignments (train/eval), GroupViTPretrain loss wiring, EvalVocabularyHook."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import HOOKS, MODELS
from mmseg.structures import SegDataSample

from mmpat.models.groupvit.blocks import gumbel_hard, hard_one_hot
from mmpat.models.losses import multi_label_prompts
from mmpat.models.segmentors.groupvit_pretrain import groups_in_use


def test_hard_assignments_are_one_hot_with_soft_gradient():
    logits = torch.randn(2, 5, 7, requires_grad=True)
    soft = logits.softmax(dim=1)
    hard = hard_one_hot(logits.softmax(dim=1), dim=1)
    assert torch.equal(hard.sum(dim=1), torch.ones(2, 7))
    assert torch.equal(hard.argmax(dim=1), soft.argmax(dim=1))
    weights = torch.randn_like(hard)
    (hard * weights).sum().backward()
    expected = torch.autograd.grad((soft * weights).sum(), logits)[0]
    assert torch.allclose(logits.grad, expected)
    torch.manual_seed(0)
    samples = torch.stack([gumbel_hard(logits.detach(), dim=1) for _ in range(200)])
    assert torch.equal(samples.sum(dim=2), torch.ones(200, 2, 7))
    # Gumbel-max: the sample frequencies follow softmax(logits)
    assert (samples.mean(0) - soft.detach()).abs().max() < 0.15


def test_backbone_train_uses_gumbel_eval_uses_argmax():
    model = MODELS.build(dict(type='GroupViT', **_test_arch()))
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    out = model(x)
    for soft, assign in zip(out['soft_assigns'], out['assigns']):
        assert torch.allclose(soft.sum(dim=1), torch.ones_like(soft[:, 0]))
        assert torch.equal(
            assign, F.one_hot(soft.argmax(1), soft.shape[1]).permute(0, 2, 1).float()
        )
    model.train()
    torch.manual_seed(1)
    a = model(x)['assigns'][0]
    b = model(x)['assigns'][0]
    assert torch.equal(a.sum(1), torch.ones_like(a[:, 0]))
    assert not torch.equal(a, b)  # noise in training


def _test_arch():
    from mmpat.models.groupvit import get_groupvit_preset

    return get_groupvit_preset('GroupViT-test')['image']


def _samples(captions):
    return [SegDataSample(metainfo=dict(caption=c, captions=[c])) for c in captions]


def test_pretrain_loss_matches_manual_computation():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='GroupViTPretrain', arch='GroupViT-test', num_prompts=2, seed=3))
    model.train()
    model.backbone.eval()  # deterministic assignments for the comparison
    x = torch.randn(3, 3, 64, 64)
    captions = ['a red circle', 'a dog on the grass', 'it is what it is']
    losses = model.loss(x, _samples(captions))
    stages = [f'groups_stage{i + 1}' for i in range(len(model.backbone(x)['assigns']))]
    assert set(losses) == {'loss_itc', 'loss_multi_label', 'logit_scale', 'groups_final', *stages}
    assert 1 <= losses['groups_final'] <= losses[stages[-1]]
    for name, assign in zip(stages, model.backbone(x)['assigns']):
        assert 1 <= losses[name] <= assign.shape[1]
    # same computation by hand (same prompt sampler seed)
    rng = random.Random(3)
    prompts = [p for c in captions for p in multi_label_prompts(c, 2, model.prompt_templates, rng)]
    assert prompts[4:] == ['it is what it is'] * 2  # no nouns -> the caption
    image = model.img_projector(model.backbone(x)['pooled'])
    text = model.encode_captions(captions + prompts)
    ref = model.loss_fn(
        image,
        text[:3],
        model.logit_scale,
        text[3:].reshape(3, 2, -1),
        model.multi_label_logit_scale,
    )
    assert torch.allclose(losses['loss_itc'], ref['loss_itc'], atol=1e-5)
    assert torch.allclose(losses['loss_multi_label'], ref['loss_multi_label'], atol=1e-5)
    (losses['loss_itc'] + losses['loss_multi_label']).backward()
    stage0 = model.backbone.layers[0]
    assert stage0.group_token.grad is not None and stage0.group_token.grad.abs().sum() > 0
    assert model.text_encoder.token_embedding.weight.grad.abs().sum() > 0
    assert model.multi_label_logit_scale.grad is not None


def test_pretrain_bad_input():
    model = MODELS.build(dict(type='GroupViTPretrain', arch='GroupViT-test', num_prompts=0))
    with pytest.raises(ValueError, match='no caption'):
        model.loss(torch.randn(1, 3, 64, 64), [SegDataSample()])
    losses = model.loss(torch.randn(2, 3, 64, 64), _samples(['a cat', 'a dog']))
    assert 'loss_multi_label' not in losses


def test_eval_vocabulary_hook():
    model = MODELS.build(dict(type='GroupViTZeroShot', arch='GroupViT-test'))
    hook = HOOKS.build(dict(type='EvalVocabularyHook'))
    caption_data = SimpleNamespace(dataset=SimpleNamespace(metainfo={}))
    val_data = SimpleNamespace(
        dataset=SimpleNamespace(metainfo=dict(classes=('background', 'cat', 'dog')))
    )
    runner = SimpleNamespace(
        model=model,
        train_dataloader=caption_data,
        val_dataloader=val_data,
        test_dataloader=val_data,
    )
    hook.before_train(runner)  # captions: no classes, no error
    hook.before_val(runner)
    assert model.class_names == ['background', 'cat', 'dog'] and model.has_background
    hook.after_val(runner)
    assert model.class_names == ['background', 'cat', 'dog']


def test_groups_in_use_counts_winning_groups():
    collapsed = torch.zeros(2, 4, 6)
    collapsed[:, 1] = 1.0  # every token in group 1
    assert groups_in_use(collapsed) == 1
    spread = torch.eye(4).repeat(1, 2)[None].expand(2, 4, 8)  # tokens cycle over 4 groups
    assert groups_in_use(spread) == 4
    soft = torch.tensor([[[0.6, 0.2], [0.4, 0.8]]])  # soft: token 0 -> group 0, token 1 -> 1
    assert groups_in_use(soft) == 2


@pytest.mark.parametrize(('noun_phrases', 'expected'), [(False, 'circle'), (True, 'red circle')])
def test_pretrain_prompts_use_nouns_or_noun_phrases(noun_phrases, expected, monkeypatch):
    model = MODELS.build(
        dict(
            type='GroupViTPretrain',
            arch='GroupViT-test',
            num_prompts=1,
            prompt_templates=['a photo of a {}.'],
            noun_phrases=noun_phrases,
        )
    )
    seen: list[str] = []
    encode = model.encode_captions

    def spy(texts):
        seen.extend(texts)
        return encode(texts)

    monkeypatch.setattr(model, 'encode_captions', spy)
    model.loss(torch.randn(2, 3, 64, 64), _samples(['a red circle', 'it is']))
    assert seen == ['a red circle', 'it is', f'a photo of a {expected}.', 'it is']
    with pytest.raises(ValueError, match='batch of 1 image-caption pair'):
        model.loss(torch.randn(1, 3, 64, 64), _samples(['a red circle']))


def test_a_template_set_name_stays_a_name():
    # 'simple' used to become ['s', 'i', 'm', ...]: one template per character
    model = MODELS.build(
        dict(type='GroupViTPretrain', arch='GroupViT-test', num_prompts=0, templates='simple')
    )
    assert model.templates == 'simple'
    model.set_vocabulary(['background', 'cat', 'dog'])
    reference = model.text_encoder.encode_vocabulary(['cat', 'dog'], templates=['a photo of a {}.'])
    assert torch.allclose(model.class_embeddings, reference, atol=1e-6)
