"""CLIPPyramid against open_clip (random weights) and independent reference computations."""

from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F
from open_clip.model import CLIP

from mmpat.models.backbones import CLIPPyramid
from mmpat.models.clip import build_open_clip, get_clip_preset

TINY_RN = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8, patch_size=None),
    text_cfg=dict(context_length=16, vocab_size=49408, width=16, heads=2, layers=1),
)


def _pair(preset, **kwargs):
    torch.manual_seed(0)
    reference = CLIP(**get_clip_preset(preset)).eval()
    backbone = CLIPPyramid(preset=preset, **kwargs).eval()
    backbone.visual.load_state_dict(reference.visual.state_dict())
    return reference, backbone


def _stages_and_outputs(stages_owner, reference, backbone, x):
    """open_clip's layer1-4 outputs (forward hooks on ``stages_owner``), its ``encode_image``
    and the backbone's outputs for ``x``."""
    stages = []
    hooks = [
        getattr(stages_owner, f'layer{k}').register_forward_hook(lambda m, i, o: stages.append(o))
        for k in range(1, 5)
    ]
    with torch.no_grad():
        encoded = reference.encode_image(x)
        out = backbone(x)
    for h in hooks:
        h.remove()
    return stages, encoded, out


def _block_outputs(visual, x):
    """open_clip's own per-block outputs, via forward hooks."""
    outputs = []
    hooks = [
        b.register_forward_hook(lambda m, i, o: outputs.append(o))
        for b in visual.transformer.resblocks
    ]
    with torch.no_grad():
        pooled = visual(x)
    for h in hooks:
        h.remove()
    return pooled, outputs


def _maskclip_dense(visual, x_in, mlp=False):
    """Straightforward MaskCLIP v-path on the last block's input tokens [B, N, C]."""
    block = visual.transformer.resblocks[-1]
    width = x_in.shape[-1]
    w_v = block.attn.in_proj_weight[2 * width :]
    b_v = block.attn.in_proj_bias[2 * width :]
    patches = x_in[:, 1:]
    v = block.ln_1(patches) @ w_v.t() + b_v
    out = patches + block.attn.out_proj(v)
    if mlp:
        out = out + block.mlp(block.ln_2(out))
    return visual.ln_post(out) @ visual.proj  # [B, hw, D]


@pytest.mark.parametrize('preset', ['ViT-test', 'ViT-scenes-tiny'])
def test_vit_parity_with_open_clip(preset):
    depth = get_clip_preset(preset)['vision_cfg']['layers']
    reference, backbone = _pair(preset, out_indices=tuple(range(1, depth + 1)))
    size = get_clip_preset(preset)['vision_cfg']['image_size']
    x = torch.randn(2, 3, size, size)
    pooled, blocks = _block_outputs(reference.visual, x)
    with torch.no_grad():
        out = backbone(x)
        encoded = reference.encode_image(x)
    assert (out['global'] - encoded).abs().max() < 1e-5
    assert (out['global'] - pooled).abs().max() < 1e-5
    grid = size // backbone.patch_size
    assert len(out['pyramid']) == depth
    for level, tokens in zip(out['pyramid'], blocks):
        expected = tokens[:, 1:].reshape(2, grid, grid, -1).permute(0, 3, 1, 2)
        assert level.shape == (2, backbone.width, grid, grid)
        assert (level - expected).abs().max() < 1e-5
    with torch.no_grad():
        dense = _maskclip_dense(reference.visual, blocks[-2])
    dense = dense.reshape(2, grid, grid, -1).permute(0, 3, 1, 2)
    assert out['dense'].shape == (2, backbone.embed_dim, grid, grid)
    assert (out['dense'] - dense).abs().max() < 1e-5


def test_default_out_indices_are_depth_quarters():
    assert CLIPPyramid(preset='ViT-scenes-tiny').out_indices == (1, 2, 3, 4)
    assert CLIPPyramid(preset='ViT-test').out_indices == (1, 1, 2, 2)
    with pytest.raises(ValueError, match='out_indices'):
        CLIPPyramid(preset='ViT-test', out_indices=(3, 6, 9, 12))


def test_dense_mlp_option_and_block_zero():
    reference, backbone = _pair('ViT-test', out_indices=(0, 1), dense_mlp=True)
    x = torch.randn(1, 3, 32, 32)
    _, blocks = _block_outputs(reference.visual, x)
    with torch.no_grad():
        out = backbone(x)
        expected = _maskclip_dense(reference.visual, blocks[-2], mlp=True)
        embedded = reference.visual.ln_pre(
            torch.cat(
                [
                    reference.visual.class_embedding.expand(1, 1, -1),
                    reference.visual.conv1(x).flatten(2).transpose(1, 2),
                ],
                1,
            )
            + reference.visual.positional_embedding
        )
    assert (out['dense'].flatten(2).transpose(1, 2) - expected).abs().max() < 1e-5
    level0 = embedded[:, 1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2)
    assert (out['pyramid'][0] - level0).abs().max() < 1e-5


def test_non_native_size_interpolates_positional_embedding():
    reference, backbone = _pair('ViT-test', out_indices=(2,))
    # Reference: open_clip built for a 40 x 56 input (5 x 7 grid), with the 4 x 4 grid
    # embedding resized independently here (bicubic, align_corners=False).
    cfg = get_clip_preset('ViT-test')
    cfg['vision_cfg']['image_size'] = (40, 56)
    big = CLIP(**cfg).eval()
    state = reference.visual.state_dict()
    pos = state['positional_embedding']
    grid = pos[1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(5, 7), mode='bicubic', align_corners=False)
    state['positional_embedding'] = torch.cat([pos[:1], grid.permute(0, 2, 3, 1).reshape(35, -1)])
    big.visual.load_state_dict(state)
    x = torch.randn(2, 3, 40, 56)
    pooled, blocks = _block_outputs(big.visual, x)
    with torch.no_grad():
        out = backbone(x)
        out_again = backbone(x)  # served from the interpolation cache
    assert (out['global'] - pooled).abs().max() < 1e-5
    assert (out_again['global'] - pooled).abs().max() < 1e-5
    expected = blocks[-1][:, 1:].reshape(2, 5, 7, -1).permute(0, 3, 1, 2)
    assert out['pyramid'][0].shape == (2, 32, 5, 7)
    assert (out['pyramid'][0] - expected).abs().max() < 1e-5
    assert out['dense'].shape == (2, 32, 5, 7)
    # New weights must not be served from the stale cache.
    with torch.no_grad():
        backbone.visual.positional_embedding.mul_(2.0)
        changed = backbone(x)['global']
    assert (changed - pooled).abs().max() > 1e-4


def test_freezing_and_unfreeze():
    backbone = CLIPPyramid(preset='ViT-test')
    assert not any(p.requires_grad for p in backbone.parameters())
    backbone = CLIPPyramid(preset='ViT-test', unfreeze=('transformer.resblocks.1', 'proj'))
    trainable = {n for n, p in backbone.visual.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(('transformer.resblocks.1.', 'proj')) for n in trainable)
    assert 'proj' in trainable and 'transformer.resblocks.0.ln_1.weight' not in trainable
    out = backbone(torch.randn(1, 3, 32, 32))
    (out['global'].sum() + out['dense'].sum()).backward()
    assert backbone.visual.proj.grad is not None
    assert backbone.visual.transformer.resblocks[1].mlp.c_fc.weight.grad is not None
    assert all(p.requires_grad for p in CLIPPyramid(preset='ViT-test', frozen=False).parameters())
    with pytest.raises(ValueError, match='unfreeze'):
        CLIPPyramid(preset='ViT-test', unfreeze=('blocks.11',))


def test_resnet_parity_dense_and_frozen_bn():
    reference, backbone = _pair(TINY_RN)
    x = torch.randn(2, 3, 64, 64)
    stages, encoded, out = _stages_and_outputs(reference.visual, reference, backbone, x)
    assert (out['global'] - encoded).abs().max() < 1e-5
    assert [tuple(p.shape[1:]) for p in out['pyramid']] == [
        (32, 16, 16),
        (64, 8, 8),
        (128, 4, 4),
        (256, 2, 2),
    ]
    for level, stage in zip(out['pyramid'], stages):
        assert (level - stage).abs().max() < 1e-5
    pool = reference.visual.attnpool
    feats = stages[-1].permute(0, 2, 3, 1)  # [B, h, w, C]
    dense = pool.c_proj(pool.v_proj(feats)).permute(0, 3, 1, 2)
    assert out['dense'].shape == (2, 16, 2, 2)
    assert (out['dense'] - dense).abs().max() < 1e-5
    # Other input size: the pool's positional embedding is resized; shapes follow.
    with torch.no_grad():
        other = backbone(torch.randn(1, 3, 96, 128))
    assert other['global'].shape == (1, 16) and other['dense'].shape == (1, 16, 3, 4)
    backbone.train()
    assert not any(m.training for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_pretrained_file_and_bad_input(tmp_path):
    torch.manual_seed(0)
    model = build_open_clip('ViT-test')
    path = str(tmp_path / 'clip.bin')
    torch.save(model.state_dict(), path)
    backbone = CLIPPyramid(preset='ViT-test', pretrained=path)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert (backbone(x)['global'] - model.encode_image(x)).abs().max() < 1e-5
    with pytest.raises(FileNotFoundError, match='missing.pt'):
        CLIPPyramid(preset='ViT-test', pretrained=str(tmp_path / 'missing.pt'))
    with pytest.raises(ValueError, match=r'\[B, 3, H, W\]'):
        backbone(torch.randn(1, 1, 32, 32))


TINY_TIMM = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=64, timm_model_name='test_resnet', timm_pool='avg'),
    text_cfg=dict(context_length=16, vocab_size=49408, width=16, heads=2, layers=1),
)


@pytest.mark.parametrize('preset', ['timm-resnet-scenes-tiny', TINY_TIMM])
def test_timm_tower_parity_with_open_clip(preset):
    """Global = open_clip's encode_image; pyramid = the trunk's stage outputs (strides 4-32)."""
    reference, backbone = _pair(preset)
    size = get_clip_preset(preset)['vision_cfg']['image_size']
    x = torch.randn(2, 3, size, size)
    stages, expected, out = _stages_and_outputs(reference.visual.trunk, reference, backbone, x)
    stages = dict(enumerate(stages, start=1))
    assert (out['global'] - expected).abs().max() < 1e-5
    for k, feature in zip(backbone.out_indices, out['pyramid']):
        assert feature.shape[-1] == size // 2 ** (k + 1)
        assert (feature - stages[k]).abs().max() < 1e-5
    assert backbone.out_channels == tuple(f.shape[1] for f in out['pyramid'])
    dense = out['dense']
    assert dense.shape == (2, backbone.embed_dim, size // 32, size // 32)
    # The dense head is the pooling head at each location: the last stage projected per pixel.
    projected = torch.einsum('bchw,dc->bdhw', stages[4], reference.visual.head.proj.weight)
    assert (dense - projected).abs().max() < 1e-5
    if get_clip_preset(preset)['vision_cfg']['timm_pool'] == 'avg':
        assert (dense.mean((2, 3)) - expected).abs().max() < 1e-5  # MaskCLIP's identity


def test_timm_tower_tuple_output_and_errors():
    backbone = CLIPPyramid(preset=TINY_TIMM, out_format='tuple', out_indices=(2, 3)).eval()
    with torch.no_grad():
        maps = backbone(torch.randn(1, 3, 64, 64))
    assert [m.shape[-1] for m in maps] == [8, 4]
    attn = dict(
        TINY_TIMM,
        embed_dim=64,  # timm's attention pool: a multiple of its 64-wide heads
        vision_cfg=dict(
            TINY_TIMM['vision_cfg'], timm_model_name='test_byobnet', timm_pool='abs_attn'
        ),
    )
    with pytest.raises(ValueError, match='not attention pooling'):
        CLIPPyramid(preset=attn)
    with pytest.raises(ValueError, match="convolutional CLIP, whose dense path is MaskCLIP's"):
        CLIPPyramid(preset=TINY_TIMM, dense_attention='sclip')


@pytest.mark.parametrize('output_stride', [16, 8])
def test_timm_tower_output_stride_dilates_with_the_same_weights(output_stride):
    """output_stride rebuilds the trunk dilated (timm's own output_stride) with the weights of
    the stride-32 tower: the dense grid gets finer, the early stages are unchanged."""
    reference, strided = _pair(TINY_TIMM)
    dilated = CLIPPyramid(preset=TINY_TIMM, output_stride=output_stride).eval()
    dilated.load_state_dict(strided.state_dict())
    expected = timm.create_model('test_resnet', output_stride=output_stride)
    expected.reset_classifier(0, global_pool='avg')
    expected.load_state_dict(reference.visual.trunk.state_dict())
    expected.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out, base = dilated(x), strided(x)
        last = expected.forward_features(x)
    grid = 64 // output_stride
    assert out['dense'].shape == (2, 16, grid, grid)
    projected = torch.einsum('bchw,dc->bdhw', last, reference.visual.head.proj.weight)
    assert (out['dense'] - projected).abs().max() < 1e-5
    assert (out['pyramid'][0] - base['pyramid'][0]).abs().max() < 1e-6  # stride 4: untouched
    assert out['pyramid'][3].shape[-1] == grid
    with pytest.raises(ValueError, match='output_stride must be 8, 16 or 32'):
        CLIPPyramid(preset=TINY_TIMM, output_stride=4)
    with pytest.raises(ValueError, match='needs a timm image tower'):
        CLIPPyramid(preset='ViT-test', output_stride=16)
