"""mmcv.ops attention-style ops: PSAMask, CrissCrossAttention, multi-scale deformable attention."""

import numpy as np
import pytest
import torch
from mmcv.ops import CrissCrossAttention, MultiScaleDeformableAttention, PSAMask

from mmpat.compat.mmcv_ops.multi_scale_deform_attn import multi_scale_deformable_attn_pytorch
from mmpat.compat.mmcv_ops.psa_mask import psa_mask


def naive_psa_mask(x, psa_type, mask_h, mask_w):
    """mmcv's CPU kernel as loops over positions and mask taps."""
    batch, _, height, width = x.shape
    out = np.zeros((batch, height * width, height, width))
    half_h, half_w = (mask_h - 1) // 2, (mask_w - 1) // 2
    for n in range(batch):
        for h in range(height):
            for w in range(width):
                for i in range(mask_h):
                    for j in range(mask_w):
                        th, tw = h + i - half_h, w + j - half_w
                        if 0 <= th < height and 0 <= tw < width:
                            value = x[n, i * mask_w + j, h, w]
                            if psa_type == 'collect':
                                out[n, th * width + tw, h, w] = value
                            else:
                                out[n, h * width + w, th, tw] = value
    return torch.from_numpy(out).float()


@pytest.mark.parametrize('psa_type', ['collect', 'distribute'])
@pytest.mark.parametrize('mask', [(3, 5), (9, 11)])
def test_psa_mask_matches_naive_loop(psa_type, mask):
    torch.manual_seed(0)
    x = torch.randn(2, mask[0] * mask[1], 5, 6)
    got = PSAMask(psa_type, mask)(x)
    torch.testing.assert_close(got, naive_psa_mask(x.numpy(), psa_type, *mask))


def test_psa_mask_gradient_and_errors():
    x = torch.randn(1, 9, 3, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: psa_mask(t, 'collect', (3, 3)), (x,))
    with pytest.raises(ValueError, match=r'expects input \(N, 25, H, W\)'):
        PSAMask('collect', (5, 5))(torch.randn(1, 9, 3, 3))
    with pytest.raises(ValueError, match='psa_type'):
        PSAMask('gather', (3, 3))


def test_criss_cross_attention_matches_naive_loop():
    torch.manual_seed(1)
    layer = CrissCrossAttention(16).eval()
    layer.gamma.scale.data.fill_(0.7)
    x = torch.randn(2, 16, 4, 5)
    query, key, value = layer.query_conv(x), layer.key_conv(x), layer.value_conv(x)
    expected = torch.empty_like(x)
    for n in range(2):
        for h in range(4):
            for w in range(5):
                # the column without the centre, then the whole row (the centre counted once)
                places = [(i, w) for i in range(4) if i != h] + [(h, j) for j in range(5)]
                energy = torch.stack([query[n, :, h, w] @ key[n, :, i, j] for i, j in places])
                weights = energy.softmax(0)
                mixed = sum(a * value[n, :, i, j] for a, (i, j) in zip(weights, places))
                expected[n, :, h, w] = 0.7 * mixed + x[n, :, h, w]
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)


def naive_msda(value, shapes, locations, weights):
    """Loop over batch, queries, heads, levels and points with explicit bilinear reads."""
    bs, _, heads, dims = value.shape
    _, queries, _, levels, points, _ = locations.shape
    starts = np.cumsum([0] + [h * w for h, w in shapes])
    out = np.zeros((bs, queries, heads, dims))
    for b in range(bs):
        for q in range(queries):
            for m in range(heads):
                for level, (height, width) in enumerate(shapes):
                    grid = value[b, starts[level] : starts[level + 1], m].reshape(
                        height, width, dims
                    )
                    for p in range(points):
                        x = locations[b, q, m, level, p, 0] * width - 0.5
                        y = locations[b, q, m, level, p, 1] * height - 0.5
                        x0, y0 = int(np.floor(x)), int(np.floor(y))
                        sample = np.zeros(dims)
                        for yy in (y0, y0 + 1):
                            for xx in (x0, x0 + 1):
                                if 0 <= yy < height and 0 <= xx < width:
                                    sample += (1 - abs(x - xx)) * (1 - abs(y - yy)) * grid[yy, xx]
                        out[b, q, m] += weights[b, q, m, level, p] * sample
    return torch.from_numpy(out.reshape(bs, queries, heads * dims)).float()


def test_multi_scale_deformable_attention_function_matches_naive_loop_and_gradcheck():
    torch.manual_seed(2)
    shapes = [(4, 5), (2, 3)]
    value = torch.randn(2, 26, 2, 3)
    locations = torch.rand(2, 4, 2, 2, 3, 2) * 1.2 - 0.1
    weights = torch.rand(2, 4, 2, 2, 3)
    got = multi_scale_deformable_attn_pytorch(value, torch.tensor(shapes), locations, weights)
    expected = naive_msda(value.numpy(), shapes, locations.numpy(), weights.numpy())
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    inputs = [t.double().requires_grad_() for t in (value, locations, weights)]
    assert torch.autograd.gradcheck(
        lambda v, loc, w: multi_scale_deformable_attn_pytorch(v, torch.tensor(shapes), loc, w),
        inputs,
    )


def test_multi_scale_deformable_attention_module_reads_its_reference_points():
    # One head, level and point, no learned offsets: each query reads the value projection
    # at its reference point, then the output projection and the residual are applied.
    torch.manual_seed(3)
    attn = MultiScaleDeformableAttention(8, 1, 1, 1, dropout=0.0, batch_first=True)
    torch.nn.init.zeros_(attn.sampling_offsets.bias)
    height, width = 3, 4
    value = torch.randn(1, height * width, 8)
    centres = [((x + 0.5) / width, (y + 0.5) / height) for y in range(3) for x in range(4)]
    reference = torch.tensor(centres)[None, :, None, :]
    query = torch.randn(1, height * width, 8)
    out = attn(
        query, value=value, reference_points=reference, spatial_shapes=torch.tensor([[3, 4]])
    )
    expected = attn.output_proj(attn.value_proj(value)) + query
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    # sequence-first inputs give the same, transposed
    attn.batch_first = False
    out_t = attn(
        query.transpose(0, 1),
        value=value.transpose(0, 1),
        reference_points=reference,
        spatial_shapes=torch.tensor([[3, 4]]),
    )
    torch.testing.assert_close(out_t.transpose(0, 1), out)
