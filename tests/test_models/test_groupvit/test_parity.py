"""Parity with the Apache-2.0 HF ``GroupViTModel`` (random weights) through both converters."""

from __future__ import annotations

import re

import pytest
import torch
from mmseg.registry import MODELS

from mmpat.models.groupvit import (
    check_groupvit_shapes,
    convert_groupvit_state_dict,
    groupvit_zero_shot_cfg,
    hf_to_released,
    load_groupvit_weights,
)

transformers = pytest.importorskip('transformers')

SMALL_ARCH = dict(
    image=dict(
        img_size=224,
        patch_size=16,
        embed_dim=64,
        num_heads=2,
        depths=(2, 1, 1),
        num_group_tokens=(8, 2, 0),
        num_output_groups=(8, 2),
        drop_path_rate=0.0,
    ),
    text=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2),
    proj=dict(hidden_dim=64, out_dim=32),
)

# Key patterns of the released checkpoints (docs/methods/groupvit.md, released checkpoints).
RELEASED_PATTERNS = [
    r'img_encoder\.(pos_embed|patch_embed\.(proj|norm)\.\w+|norm\.\w+)',
    r'img_encoder\.layers\.\d\.group_token',
    r'img_encoder\.layers\.\d\.blocks\.\d\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.\w+',
    r'img_encoder\.layers\.\d\.downsample\.(norm_tokens|norm_post_tokens|norm_x|norm_new_x|'
    r'mlp_inter\.fc[12]|pre_assign_attn\.(attn\.(q_proj|k_proj|v_proj|proj)|norm2|norm_post|'
    r'mlp\.fc[12])|assign\.(q_proj|k_proj|v_proj|proj)|mlp_channels\.fc[12])\.\w+',
    r'img_encoder\.layers\.1\.group_projector\.(0|1\.fc1|1\.fc2)\.\w+',
    r'text_encoder\.(token_embedding\.weight|positional_embedding|ln_final\.\w+)',
    r'text_encoder\.transformer\.resblocks\.\d+\.(attn\.(in_proj_weight|in_proj_bias|out_proj\.\w+)|'
    r'ln_1\.\w+|ln_2\.\w+|mlp\.c_fc\.\w+|mlp\.c_proj\.\w+)',
    r'(img|text)_projector\.(linear_hidden\.0|linear_hidden\.1|linear_out)\.\w+',
    r'logit_scale',
]


def make_hf(vision: dict, text: dict, proj_dim: int, proj_hidden: int):
    config = transformers.GroupViTConfig(
        text_config=text,
        vision_config=vision,
        projection_dim=proj_dim,
        projection_intermediate_dim=proj_hidden,
    )
    torch.manual_seed(0)
    model = transformers.GroupViTModel(config).eval()
    with torch.no_grad():  # non-trivial biases, norms, BN statistics, zero-init tokens
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                scale = 0.02 if 'position' not in name else 0.1
                tensor.add_(torch.randn_like(tensor) * scale)
                if name.endswith('running_var'):
                    tensor.abs_().add_(0.5)
    return model


@pytest.fixture(scope='module')
def small_hf():
    vision = dict(
        hidden_size=64,
        intermediate_size=256,
        num_hidden_layers=4,
        depths=[2, 1, 1],
        num_group_tokens=[8, 2, 0],
        num_output_groups=[8, 2, 2],
        num_attention_heads=2,
        image_size=224,
        patch_size=16,
    )
    text = dict(hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2)
    return make_hf(vision, text, proj_dim=32, proj_hidden=64)


def inputs(seed: int = 1, size=(224, 224)):
    import open_clip

    g = torch.Generator().manual_seed(seed)
    images = torch.randn(2, 3, *size, generator=g)
    tokens = open_clip.tokenize(['a photo of a cat.', 'two dogs playing on the grass'], 77)
    return images, tokens


def build(arch):
    return MODELS.build(groupvit_zero_shot_cfg(arch)).eval()


def compare(hf, model, size=(224, 224)):
    images, tokens = inputs(size=size)
    with torch.no_grad():
        hf_img = hf.get_image_features(pixel_values=images).pooler_output
        hf_txt = hf.get_text_features(input_ids=tokens).pooler_output
        hf_groups = hf.vision_model(pixel_values=images, output_attentions=True).attentions
        feats = model.backbone(images)
        img = model.decode_head.img_projector(feats['pooled'])
        txt = model.text_encoder.projector(model.text_encoder(tokens))
    assert (img - hf_img).abs().max() < 1e-4
    assert (txt - hf_txt).abs().max() < 1e-4
    assert len(hf_groups) == len(feats['soft_assigns'])
    for ours, ref in zip(feats['soft_assigns'], hf_groups):
        assert ours.shape == ref.shape
        assert (ours - ref).abs().max() < 1e-5
        assert torch.equal(ours.argmax(dim=1), ref.argmax(dim=1))
    return feats


@pytest.mark.parametrize('layout', ['hf', 'released'])
def test_small_parity(small_hf, layout):
    hf_sd = small_hf.state_dict()
    if layout == 'released':
        released = hf_to_released(hf_sd)
        for key in released:
            assert any(re.fullmatch(p, key) for p in RELEASED_PATTERNS), key
        # projector linears are Conv1d(k=1) in the released files
        assert released['img_projector.linear_hidden.0.weight'].dim() == 3
        checkpoint = {'model': released, 'epoch': 30}
    else:
        checkpoint = hf_sd
    model = build(SMALL_ARCH)
    load_groupvit_weights(model, checkpoint, 'small')
    assert torch.equal(model.decode_head.logit_scale, small_hf.logit_scale)
    compare(small_hf, model)


def test_pos_embed_interpolation_matches_hf(small_hf):
    model = build(SMALL_ARCH)
    load_groupvit_weights(model, small_hf.state_dict(), 'small')
    images = torch.randn(1, 3, 160, 288)
    with torch.no_grad():
        ref = small_hf.vision_model.embeddings(images, interpolate_pos_encoding=True)
        x, grid = model.backbone.patch_embed(images)
        ours = x + model.backbone.interpolate_pos_embed(grid)
    assert grid == (10, 18)
    assert (ours - ref).abs().max() < 1e-5


def test_saved_file_round_trip(small_hf, tmp_path):
    path = tmp_path / 'group_vit_small.pth'
    torch.save({'model': hf_to_released(small_hf.state_dict())}, path)
    model = build(SMALL_ARCH)
    load_groupvit_weights(model, str(path), 'small')
    compare(small_hf, model)
    # mmpat layout (as written by the converter tool) loads unchanged
    converted = convert_groupvit_state_dict({'state_dict': model.state_dict()})
    other = build(SMALL_ARCH)
    load_groupvit_weights(other, {'state_dict': converted}, 'small')
    compare(small_hf, other)


def test_other_variant_is_refused_with_shapes(small_hf):
    model = build('GroupViT-test')
    sd = convert_groupvit_state_dict(small_hf.state_dict())
    with pytest.raises(
        ValueError, match=r'pos_embed: checkpoint \(1, 196, 64\) vs model \(1, 16, 64\)'
    ):
        check_groupvit_shapes(model, sd, 'GroupViT-test')
    with pytest.raises(FileNotFoundError):
        load_groupvit_weights(model, '/nonexistent/group_vit.pth', 'GroupViT-test')
    with pytest.raises(ValueError, match='not a GroupViT checkpoint'):
        convert_groupvit_state_dict({'foo.weight': torch.zeros(1)})


def test_groupvit_s_parity():
    """The real GroupViT-S architecture at 224 (random weights)."""
    hf = make_hf({}, {}, proj_dim=256, proj_hidden=4096)
    model = build('GroupViT-S')
    load_groupvit_weights(model, {'model': hf_to_released(hf.state_dict())}, 'GroupViT-S')
    feats = compare(hf, model)
    assert [tuple(s.shape) for s in feats['soft_assigns']] == [(2, 64, 196), (2, 8, 64)]


def test_converter_tool(small_hf, tmp_path):
    import importlib.util
    import os.path as osp

    path = osp.join(osp.dirname(__file__), '../../../tools/model_converters/groupvit2mmpat.py')
    spec = importlib.util.spec_from_file_location('groupvit2mmpat', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    src, dst = tmp_path / 'released.pth', tmp_path / 'out.pth'
    torch.save({'model': hf_to_released(small_hf.state_dict())}, src)
    assert tool.main([str(src), str(dst), '--arch', 'GroupViT-test']) == 2  # other variant
    assert tool.main([str(src), str(dst), '--no-check']) == 0
    model = build(SMALL_ARCH)
    load_groupvit_weights(model, str(dst), 'small')
    compare(small_hf, model)
