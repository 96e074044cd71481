"""ConvStem in the GroupViT backbone, the token-level caption loss through the extension, and
the reproduction of the scenes recipe through the extension point."""

from __future__ import annotations

import random

import pytest
import torch
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from scenes_models import TOKEN_TEXT_LOSS, pretrain_cfg, tiny_pretrain_with_token_loss

from mmpat.models.losses import multi_label_prompts


def _test_arch():
    from mmpat.models.groupvit import get_groupvit_preset

    return get_groupvit_preset('GroupViT-test')['image']


def _samples(captions):
    return [SegDataSample(metainfo=dict(caption=c, captions=[c])) for c in captions]


def test_conv_stem_grid_and_stage_tokens():
    arch = dict(_test_arch(), patch_embed=dict(type='ConvStem', channels=(8, 16), strides=(4, 4)))
    model = MODELS.build(dict(type='GroupViT', **arch)).eval()
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.patch_embed.modules())
    seen = []  # what each grouping block receives as its tokens
    for layer in model.layers[:2]:
        layer.downsample.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    out = model(torch.randn(2, 3, 64, 80))
    assert out['grid'] == (4, 5)  # total stride 16 = patch_size, as the linear patchify
    assert [tuple(t.shape) for t in out['stage_tokens']] == [(2, 20, 64), (2, 8, 64)]
    for given, expected in zip(out['stage_tokens'], seen, strict=True):
        assert torch.equal(given, expected)
    stem = dict(type='ConvStem', channels=(8,), strides=(8,))
    with pytest.raises(
        ValueError, match="'ConvStem' has a total stride .* of 8, not patch_size 16"
    ):
        MODELS.build(dict(type='GroupViT', **dict(arch, patch_embed=stem)))
    with pytest.raises(ValueError, match='one entry per stage'):
        MODELS.build(dict(type='GroupViT', **dict(arch, patch_embed=dict(stem, strides=(4, 4)))))


def test_token_text_loss_is_the_mil_loss_on_projected_stage_tokens():
    model = tiny_pretrain_with_token_loss()
    model.train()
    model.backbone.eval()  # deterministic assignments for the comparison
    x = torch.randn(3, 3, 64, 64)
    captions = ['a red circle', 'a blue star and a cat', 'a green square']
    model.rng = random.Random(5)
    losses = model.loss(x, _samples(captions))
    rng = random.Random(5)
    prompts = [p for c in captions for p in multi_label_prompts(c, 2, model.prompt_templates, rng)]
    # encoded with the captions, as in loss(): the projector's BatchNorm sees the same batch
    prompt_emb = model.encode_captions(captions + prompts)[3:].reshape(3, 2, -1)
    tokens = model.extension.token_projector(model.backbone(x)['stage_tokens'][0])
    ref = MODELS.build(TOKEN_TEXT_LOSS)(tokens, prompt_emb, model.multi_label_logit_scale)
    assert torch.allclose(losses['loss_token_text'], ref['loss_token_text'], atol=1e-5)
    losses['loss_token_text'].backward()
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert model.backbone.layers[1].blocks[0].attn.qkv.weight.grad is None  # after stage 1
    with pytest.raises(ValueError, match='token_text_loss matches the noun prompts'):
        MODELS.build(pretrain_cfg(num_prompts=0, token_text_loss=TOKEN_TEXT_LOSS))
