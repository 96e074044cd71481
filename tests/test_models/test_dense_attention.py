"""CLIPPyramid's training-free dense variants (MaskCLIP, SCLIP, ClearCLIP, NACLIP) against a
direct computation written here: a loop over the heads, an explicit softmax, the residual and
the MLP added by hand, NACLIP's bias from pixel loops."""

from __future__ import annotations

import math

import pytest
import torch
from open_clip.model import CLIP

from mmpat.models.backbones import CLIPPyramid
from mmpat.models.backbones.dense_attention import mix_values, neighbourhood_bias
from mmpat.models.clip import get_clip_preset

# What each paper does to the last block (docs/methods/dense_clip.md), written independently
# of the backbone's table: (attention, residual kept, MLP kept).
PAPERS = {
    'maskclip': ('value', True, False),
    'sclip': ('qq+kk', True, True),
    'clearclip': ('qq', False, False),
    'naclip': ('kk+gauss', False, False),
}
NACLIP_STD = 5.0


def _softmax(z: torch.Tensor) -> torch.Tensor:
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def _gaussian_bias(h: int, w: int, std: float) -> torch.Tensor:
    """[1 + hw, 1 + hw]: exp(-d^2 / (2 std^2)) between patches, 0 for the class token."""
    bias = torch.zeros(1 + h * w, 1 + h * w)
    for a in range(h * w):
        for b in range(h * w):
            (ra, ca), (rb, cb) = divmod(a, w), divmod(b, w)
            bias[1 + a, 1 + b] = math.exp(-((ra - rb) ** 2 + (ca - cb) ** 2) / (2 * std**2))
    return bias


def reference_dense(visual, x_in, grid, attention, residual, mlp, std=NACLIP_STD):
    """The dense embedding [B, D, h, w] from the last block's input tokens x_in [B, N, C]."""
    block = visual.transformer.resblocks[-1]
    width = x_in.shape[-1]
    heads = block.attn.num_heads
    dim = width // heads
    y = block.ln_1(x_in)
    w, b = block.attn.in_proj_weight, block.attn.in_proj_bias
    q = y @ w[:width].T + b[:width]
    k = y @ w[width : 2 * width].T + b[width : 2 * width]
    v = y @ w[2 * width :].T + b[2 * width :]
    scale = dim**-0.5
    bias = _gaussian_bias(*grid, std)
    per_head = []
    for head in range(heads):
        cols = slice(head * dim, (head + 1) * dim)
        qh, kh, vh = q[..., cols], k[..., cols], v[..., cols]
        if attention == 'value':
            per_head.append(vh)
            continue
        if attention == 'qq':
            weights = _softmax(scale * qh @ qh.transpose(1, 2))
        elif attention == 'qq+kk':
            weights = _softmax(scale * qh @ qh.transpose(1, 2))
            weights = weights + _softmax(scale * kh @ kh.transpose(1, 2))
        else:
            weights = _softmax(scale * kh @ kh.transpose(1, 2) + bias)
        per_head.append(weights @ vh)
    mixed = torch.cat(per_head, dim=-1)[:, 1:]
    out = mixed @ block.attn.out_proj.weight.T + block.attn.out_proj.bias
    if residual:
        out = out + x_in[:, 1:]
    if mlp:
        out = out + block.mlp(block.ln_2(out))
    out = visual.ln_post(out) @ visual.proj
    return out.transpose(1, 2).reshape(x_in.shape[0], -1, *grid)


def _backbone(**kwargs) -> CLIPPyramid:
    torch.manual_seed(0)
    reference = CLIP(**get_clip_preset('ViT-test')).eval()
    backbone = CLIPPyramid(preset='ViT-test', out_indices=(1, 2), **kwargs).eval()
    backbone.visual.load_state_dict(reference.visual.state_dict())
    return backbone


def _run_with_last_input(backbone: CLIPPyramid, x: torch.Tensor):
    """The backbone's outputs and the tokens entering its last block (a hook on the one before)."""
    seen = []
    hook = backbone.visual.transformer.resblocks[-2].register_forward_hook(
        lambda m, i, o: seen.append(o)
    )
    with torch.no_grad():
        out = backbone(x)
    hook.remove()
    return out, seen[0]


@pytest.mark.parametrize('name', sorted(PAPERS))
@pytest.mark.parametrize('size', [(32, 32), (40, 56)], ids=['native', 'non-square'])
def test_dense_matches_direct_computation(name, size):
    backbone = _backbone(dense_attention=name)
    x = torch.randn(2, 3, *size)
    out, x_in = _run_with_last_input(backbone, x)
    grid = (size[0] // 8, size[1] // 8)
    with torch.no_grad():
        expected = reference_dense(backbone.visual, x_in, grid, *PAPERS[name])
    assert out['dense'].shape == (2, 32, *grid)
    torch.testing.assert_close(out['dense'], expected, rtol=1e-4, atol=1e-5)


def test_variants_differ_from_each_other():
    x = torch.randn(1, 3, 40, 48)
    dense = {name: _backbone(dense_attention=name)(x)['dense'] for name in PAPERS}
    names = sorted(dense)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert (dense[a] - dense[b]).abs().max() > 1e-3, f'{a} and {b} give the same map'


def test_maskclip_default_is_bit_for_bit_the_value_path():
    backbone = _backbone()
    explicit = _backbone(dense_attention='maskclip')
    x = torch.randn(2, 3, 40, 48)
    out, x_in = _run_with_last_input(backbone, x)
    with torch.no_grad():
        # The value path as CLIPPyramid computed it before the variants existed.
        visual = backbone.visual
        block = visual.transformer.resblocks[-1]
        qkv = torch.nn.functional.linear(
            block.ln_1(x_in), block.attn.in_proj_weight, block.attn.in_proj_bias
        )
        tokens = x_in[:, 1:] + block.ls_1(block.attn.out_proj(qkv[:, 1:, 64:]))
        old = (visual.ln_post(tokens) @ visual.proj).transpose(1, 2).reshape(2, 32, 5, 6)
        again = explicit(x)
    assert torch.equal(out['dense'], old)
    assert torch.equal(again['dense'], out['dense'])


@pytest.mark.parametrize('name', ['sclip', 'clearclip', 'naclip'])
def test_variants_add_no_parameter_and_change_only_dense(name):
    default, variant = _backbone(), _backbone(dense_attention=name)
    plain, changed = default.state_dict(), variant.state_dict()
    assert list(plain) == list(changed)
    assert all(plain[key].shape == changed[key].shape for key in plain)
    assert sum(p.numel() for p in variant.parameters()) == sum(
        p.numel() for p in default.parameters()
    )
    x = torch.randn(1, 3, 40, 48)
    with torch.no_grad():
        a, b = default(x), variant(x)
    assert torch.equal(a['global'], b['global'])
    assert all(torch.equal(p, q) for p, q in zip(a['pyramid'], b['pyramid']))
    assert not torch.equal(a['dense'], b['dense'])


def test_overrides_of_residual_mlp_and_std():
    x = torch.randn(1, 3, 40, 48)
    cases = [
        (dict(dense_attention='sclip', dense_mlp=False), ('qq+kk', True, False), NACLIP_STD),
        (dict(dense_attention='clearclip', dense_residual=True), ('qq', True, False), NACLIP_STD),
        (dict(dense_attention='naclip', dense_neighbourhood_std=1.5), PAPERS['naclip'], 1.5),
        (dict(dense_mlp=True), ('value', True, True), NACLIP_STD),
    ]
    for kwargs, spec, std in cases:
        backbone = _backbone(**kwargs)
        out, x_in = _run_with_last_input(backbone, x)
        with torch.no_grad():
            expected = reference_dense(backbone.visual, x_in, (5, 6), *spec, std=std)
        torch.testing.assert_close(out['dense'], expected, rtol=1e-4, atol=1e-5, msg=str(kwargs))


@pytest.mark.parametrize('kind', ['value', 'qq', 'qq+kk', 'kk+neighbourhood'])
def test_mix_values_per_head_and_for_the_patch_queries_only(kind):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 2, 1 + 12, 4).unbind(0)  # B=2, 2 heads, 3 x 4 grid
    got = mix_values(kind, q, k, v, grid=(3, 4), neighbourhood_std=2.0, queries=slice(1, None))
    bias = _gaussian_bias(3, 4, 2.0)
    expected = torch.zeros(2, 2, 12, 4)
    for b in range(2):
        for h in range(2):
            qq = _softmax(q[b, h] @ q[b, h].T / 2.0)  # s = 4 ** -0.5
            kk = _softmax(k[b, h] @ k[b, h].T / 2.0)
            weights = {
                'value': torch.eye(13),
                'qq': qq,
                'qq+kk': qq + kk,
                'kk+neighbourhood': _softmax(k[b, h] @ k[b, h].T / 2.0 + bias),
            }[kind]
            expected[b, h] = (weights @ v[b, h])[1:]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_neighbourhood_bias_on_a_non_square_grid():
    bias = neighbourhood_bias((3, 5), std=2.0)
    assert bias.shape == (16, 16)
    assert torch.all(bias[0] == 0) and torch.all(bias[:, 0] == 0)
    torch.testing.assert_close(bias, _gaussian_bias(3, 5, 2.0))
    assert torch.all(bias[1:, 1:].diagonal() == 1)
    # Row-major tokens: token 1 + 4 is (0, 4), token 1 + 5 is (1, 0), four columns apart.
    assert bias[1 + 4, 1 + 5] == pytest.approx(math.exp(-(1 + 16) / 8))
    assert neighbourhood_bias((3, 5), 2.0, num_prefix_tokens=0).shape == (15, 15)


def test_bad_variant_settings_are_refused():
    with pytest.raises(ValueError, match="not a known variant.*'naclip'"):
        CLIPPyramid(preset='ViT-test', dense_attention='nacip')
    with pytest.raises(ValueError, match='only used by'):
        CLIPPyramid(preset='ViT-test', dense_attention='sclip', dense_neighbourhood_std=3.0)
    with pytest.raises(ValueError, match='> 0'):
        CLIPPyramid(preset='ViT-test', dense_attention='naclip', dense_neighbourhood_std=0.0)
    resnet = dict(
        embed_dim=16,
        vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8, patch_size=None),
        text_cfg=dict(context_length=16, vocab_size=49408, width=16, heads=2, layers=1),
    )
    with pytest.raises(ValueError, match="convolutional CLIP.*dense_attention='maskclip'"):
        CLIPPyramid(preset=resnet, dense_attention='clearclip')
    CLIPPyramid(preset=resnet, dense_attention='maskclip')  # the ResNet dense path is MaskCLIP's
