"""PyramidTokenizer (and its TopDownFPN decoder): outputs, codebook lookup, straight-through
gradients, bottom-up composition, clear errors; the segmentor's level check."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmpat.models.necks import PyramidTokenizer, TopDownFPN

B = 2
IN_CHANNELS = [6, 10, 12]
SIZES = [16, 8, 4]
RESCALES = (2, 1, 0.5)  # 4x4 backbone grid -> 8x8, 4x4, 2x2
GRIDS = [(8, 8), (4, 4), (2, 2)]
CODE_DIM = 8


def tokenizer(**kwargs) -> PyramidTokenizer:
    torch.manual_seed(0)
    cfg = dict(
        type='PyramidTokenizer',
        in_channels=IN_CHANNELS,
        codebook_sizes=SIZES,
        code_dim=CODE_DIM,
        rescales=RESCALES,
        data_init=False,
    )
    return MODELS.build(dict(cfg, **kwargs))


def features(seed=0, grid=(4, 4)):
    g = torch.Generator().manual_seed(seed)
    pyramid = tuple(torch.randn(B, c, *grid, generator=g) for c in IN_CHANNELS)
    return dict(
        pyramid=pyramid,
        dense=torch.randn(B, 32, *grid, generator=g),
        global_=torch.randn(B, 32, generator=g),
    )


def test_outputs_keys_and_shapes():
    neck = tokenizer(decoder=dict(type='TopDownFPN', channels=16)).train()
    feats = features()
    out = neck(feats)
    # the backbone outputs pass through unchanged
    assert out['pyramid'] is feats['pyramid'] and out['dense'] is feats['dense']
    assert out['global_'] is feats['global_']
    for key in ('quantized', 'latents', 'indices', 'perplexity', 'dead_codes'):
        assert len(out[key]) == 3, key
    for level, (h, w) in enumerate(GRIDS):
        assert out['quantized'][level].shape == (B, CODE_DIM, h, w)
        assert out['latents'][level].shape == (B, CODE_DIM, h, w)
        assert out['indices'][level].shape == (B, h, w)
        assert out['indices'][level].dtype == torch.long
        assert out['indices'][level].max() < SIZES[level]
        assert out['perplexity'][level].shape == () and out['dead_codes'][level].shape == ()
        assert 1.0 <= float(out['perplexity'][level]) <= SIZES[level]
        assert neck.codebook(level).shape == (SIZES[level], CODE_DIM)
    assert out['loss_vq'].shape == () and out['loss_vq'].requires_grad
    assert out['token_features'].shape == (B, 16, 8, 8)
    logs = neck.log_vars(out)
    stats = {f'{k}_l{i}' for k in ('perplexity', 'dead_codes') for i in range(3)}
    assert set(logs) == {'loss_vq'} | stats
    assert not logs['perplexity_l0'].requires_grad
    assert 'token_features' not in tokenizer()(features())  # no decoder, no token features


@pytest.mark.parametrize('training', [True, False])
def test_latents_are_unit_and_quantized_are_codebook_rows(training):
    neck = tokenizer(beta=0.25).train(training)
    codebooks = [neck.codebook(level).clone() for level in range(3)]  # before the EMA update
    out = neck(features(seed=1))
    loss = 0.0
    for level in range(3):
        z, q, idx = out['latents'][level], out['quantized'][level], out['indices'][level]
        assert torch.allclose(z.norm(dim=1), torch.ones_like(z[:, 0]), atol=1e-5)
        expected = codebooks[level][idx].permute(0, 3, 1, 2)
        assert torch.allclose(q, expected, atol=1e-6)
        # and the indices are the nearest codes of the latents (cosine)
        flat = z.permute(0, 2, 3, 1).reshape(-1, CODE_DIM)
        nearest = (flat @ codebooks[level].t()).argmax(dim=1)
        assert torch.equal(idx.reshape(-1), nearest)
        loss = loss + 0.25 * ((z - q) ** 2).sum(dim=1).mean()
    # loss_vq: the sum of the levels' commitment losses
    assert torch.allclose(out['loss_vq'], loss, atol=1e-6)
    if not training:
        assert all(torch.equal(c, neck.codebook(i)) for i, c in enumerate(codebooks))


def test_straight_through_gradient_reaches_the_projections():
    neck = tokenizer(compose=False).train()
    out = neck(features())
    for level in range(3):
        weights = torch.randn_like(out['quantized'][level])
        grads = torch.autograd.grad(
            (out['quantized'][level] * weights).sum(),
            [p.weight for p in neck.projections],
            retain_graph=True,
            allow_unused=True,
        )
        assert grads[level] is not None and grads[level].abs().sum() > 0, level
        # levels apart: no other level's projection takes part
        assert all(g is None for i, g in enumerate(grads) if i != level)


def test_bottom_up_composition_changes_the_coarser_inputs():
    composed, apart = tokenizer(compose=True).eval(), tokenizer(compose=False).eval()
    apart.load_state_dict(composed.state_dict())
    feats = features(seed=2)
    a, b = composed(feats), apart(feats)
    # the finest level has nothing below it
    assert torch.allclose(a['latents'][0], b['latents'][0])
    for level in (1, 2):
        assert not torch.allclose(a['latents'][level], b['latents'][level], atol=1e-3)
    # the coarser latents are the finer quantised tokens, pooled and passed through the composer
    x = composed.rescales[1](composed.projections[1](feats['pyramid'][1]))
    pooled = F.adaptive_avg_pool2d(a['quantized'][0], x.shape[-2:])
    expected = F.normalize(x + composed.composers[0](pooled), dim=1)
    assert torch.allclose(a['latents'][1], expected, atol=1e-5)

    def finest_projection_grad(neck):
        out = neck.train()(feats)
        (grad,) = torch.autograd.grad(
            (out['quantized'][2] * torch.randn_like(out['quantized'][2])).sum(),
            [neck.projections[0].weight],
            allow_unused=True,
        )
        return grad

    grad = finest_projection_grad(composed)
    assert grad is not None and grad.abs().sum() > 0
    assert finest_projection_grad(apart) is None


def test_mismatched_level_arguments_are_refused():
    with pytest.raises(ValueError, match='in_channels, codebook_sizes and rescales'):
        tokenizer(codebook_sizes=[16, 8])
    with pytest.raises(ValueError, match=r'3 \(\[6, 10, 12\]\), 4 .* and 4 \(\[4, 2, 1, 0.5\]\)'):
        tokenizer(rescales=(4, 2, 1, 0.5), codebook_sizes=[16, 8, 4, 2])
    with pytest.raises(ValueError, match='one entry per pyramid level'):
        tokenizer(in_channels=[], codebook_sizes=[], rescales=[])
    with pytest.raises(ValueError, match='rescale 3 not supported'):
        tokenizer(rescales=(2, 1, 3))


def test_wrong_pyramid_inputs_are_explained():
    neck = tokenizer()
    feats = features()
    with pytest.raises(ValueError, match='3 levels .* gave 2 pyramid maps.*out_indices'):
        neck(dict(feats, pyramid=feats['pyramid'][:2]))
    bad = list(feats['pyramid'])
    bad[1] = torch.randn(B, 7, 4, 4)
    with pytest.raises(ValueError, match=r'level 1: expected 10 channels .*\(2, 7, 4, 4\)'):
        neck(dict(feats, pyramid=bad))


@pytest.mark.parametrize('training', [True, False])
def test_non_finite_input_names_the_level(training):
    neck = tokenizer(compose=False).train(training)
    pyramid = list(features()['pyramid'])
    pyramid[2] = pyramid[2].clone()
    pyramid[2][0, 0, 1, 1] = float('nan')
    with pytest.raises(FloatingPointError, match='level 2 .*4 codes'):
        neck(dict(pyramid=pyramid))
    unchecked = tokenizer(compose=False, check_finite=False).train(training)
    assert not torch.isfinite(unchecked(dict(pyramid=pyramid))['loss_vq'])


def test_segmentor_refuses_a_neck_that_does_not_match_the_backbone():
    cfg = dict(
        type='OpenVocabEncoderDecoder',
        backbone=dict(type='CLIPPyramid', preset='ViT-test', out_indices=(1, 2)),
        text_encoder=dict(type='OpenCLIPTextEncoder', preset='ViT-test', templates='simple'),
        neck=dict(
            type='PyramidTokenizer',
            in_channels=[32, 32, 32],
            codebook_sizes=[16, 8, 4],
            code_dim=8,
            rescales=(2, 1, 0.5),
        ),
        decode_head=dict(type='DenseCLIPHead'),
    )
    with pytest.raises(ValueError, match=r'PyramidTokenizer has 3 levels.*out_indices \(1, 2\)'):
        MODELS.build(cfg)


def test_top_down_fpn():
    torch.manual_seed(0)
    fpn = TopDownFPN(in_channels=[4, 6, 8], num_levels=3, channels=5)
    maps = [torch.randn(2, c, s, s) for c, s in zip([4, 6, 8], [8, 4, 2])]
    out = fpn(maps)
    assert out.shape == (2, 5, 8, 8)
    # the coarse levels reach the output (top-down path)
    coarse = [m.clone().requires_grad_() for m in maps]
    fpn(coarse).sum().backward()
    assert all(m.grad is not None and m.grad.abs().sum() > 0 for m in coarse)
    with pytest.raises(ValueError, match='expected 3 token maps, got 2'):
        fpn(maps[:2])
    with pytest.raises(ValueError, match='must have 3 entries'):
        TopDownFPN(in_channels=[4, 6], num_levels=3)


@pytest.mark.parametrize('scale', [4, 2])
def test_bilinear_rescale_keeps_neighbours_alike_where_deconv_does_not(scale):
    from mmpat.models.utils import build_rescale

    torch.manual_seed(0)
    flat = torch.ones(1, 8, 3, 3)  # one value per patch: every patch alike
    bilinear = build_rescale(scale, 8, 'bilinear')(flat)
    deconv = build_rescale(scale, 8, 'deconv')(flat)
    assert bilinear.shape == deconv.shape == (1, 8, 3 * scale, 3 * scale)
    inner = bilinear[..., 1:-1, 1:-1]  # away from the zero padding of the 3x3 conv
    assert torch.allclose(inner, inner[..., :1, :1].expand_as(inner), atol=1e-5)
    # a transposed convolution gives each sub-patch position its own weights
    assert not torch.allclose(deconv[..., 0, 0], deconv[..., 0, 1])
    with pytest.raises(ValueError, match="'deconv' or 'bilinear'"):
        build_rescale(scale, 8, 'nearest')
