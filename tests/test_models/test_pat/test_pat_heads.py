"""SemanticFusionHead (MaskCLIP start, loose coupling to the tokens, baseline) and
PixelReconHead (shape, L1 to the resized image, clear errors)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

B, EMBED, PYRAMID = 2, 16, [12, 20]


def fusion_head(**kwargs):
    torch.manual_seed(0)
    cfg = dict(
        type='SemanticFusionHead',
        pyramid_channels=PYRAMID,
        embed_dims=EMBED,
        channels=8,
        rescales=(2, 1),
        token_channels=6,
        num_classes=3,
    )
    return MODELS.build(dict(cfg, **kwargs))


def fusion_inputs(seed=0, token_size=(8, 8), tokens=True):
    g = torch.Generator().manual_seed(seed)
    inputs = dict(
        pyramid=tuple(torch.randn(B, c, 4, 4, generator=g) for c in PYRAMID),
        dense=torch.randn(B, EMBED, 4, 4, generator=g),
        class_embeddings=F.normalize(torch.randn(3, EMBED, generator=g), dim=1),
    )
    if tokens:
        inputs['token_features'] = torch.randn(B, 6, *token_size, generator=g)
    return inputs


def test_fusion_head_logits_shape():
    head = fusion_head()
    assert head(fusion_inputs()).shape == (B, 3, 8, 8)
    # token features of another size are resized to the finest level
    assert head(fusion_inputs(token_size=(4, 4))).shape == (B, 3, 8, 8)


def test_untrained_head_is_the_dense_clip_map():
    head = fusion_head(logit_scale=30.0)
    inputs = fusion_inputs()
    dense = F.interpolate(
        F.normalize(inputs['dense'], dim=1), size=(8, 8), mode='bilinear', align_corners=False
    )
    expected = F.normalize(dense, dim=1)
    embedding = head.pixel_embeddings(inputs)
    assert torch.allclose(embedding, expected, atol=1e-6)
    logits = head(inputs)
    cosine = torch.einsum('bdhw,cd->bchw', expected, inputs['class_embeddings'])
    assert torch.allclose(logits, 30.0 * cosine, atol=1e-4)
    # without the residual the untrained head gives no text-aligned embedding at all
    plain = fusion_head(dense_residual=False)
    assert not torch.allclose(plain.pixel_embeddings(inputs), expected, atol=1e-2)


def token_grad(scale, state=None, tokens=None):
    head = fusion_head(token_grad_scale=scale)
    if state is not None:
        head.load_state_dict(state)
    inputs = fusion_inputs()
    inputs['token_features'] = tokens.clone().requires_grad_()
    logits = head(inputs)
    (logits * torch.linspace(-1, 1, logits.numel()).view_as(logits)).sum().backward()
    return logits, inputs['token_features'].grad, head


def test_token_gradient_is_scaled_by_token_grad_scale():
    head = fusion_head()
    torch.manual_seed(1)
    torch.nn.init.normal_(head.embed.weight, std=0.5)  # a trained head (zero init blocks grads)
    tokens = fusion_inputs()['token_features']
    logits_s, grad_s, scaled = token_grad(0.1, head.state_dict(), tokens)
    logits_1, grad_1, full = token_grad(1.0, head.state_dict(), tokens)
    assert torch.allclose(logits_s, logits_1, atol=1e-4)  # same value
    assert grad_1.abs().sum() > 0
    assert torch.allclose(grad_s, 0.1 * grad_1, rtol=1e-4, atol=1e-7)
    # the head's own parameters get the full gradient either way
    assert torch.allclose(scaled.token_proj.weight.grad, full.token_proj.weight.grad, atol=1e-4)
    _, grad_0, _ = token_grad(0.0, head.state_dict(), tokens)
    assert grad_0 is None  # detached


def test_fusion_head_errors():
    head = fusion_head()
    with pytest.raises(KeyError, match="'token_features'.*token_channels=None"):
        head(fusion_inputs(tokens=False))
    inputs = fusion_inputs()
    with pytest.raises(ValueError, match='expects 2 pyramid maps'):
        head(dict(inputs, pyramid=inputs['pyramid'][:1]))
    with pytest.raises(ValueError, match='dense CLIP map has 5 channels, embed_dims is 16'):
        head(dict(inputs, dense=torch.randn(B, 5, 4, 4)))
    with pytest.raises(ValueError, match='one entry per pyramid level'):
        fusion_head(rescales=(2, 1, 0.5))


def test_baseline_head_works_without_tokens():
    head = fusion_head(token_channels=None)
    assert head.token_proj is None
    inputs = fusion_inputs(tokens=False)
    inputs['pyramid'] = tuple(p.requires_grad_() for p in inputs['pyramid'])
    logits = head(inputs)
    assert logits.shape == (B, 3, 8, 8)
    # token features, if present, are ignored
    assert torch.equal(head(dict(inputs, token_features=torch.randn(B, 6, 8, 8))), logits)
    samples = [
        SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 3, (1, 32, 32)))) for _ in range(B)
    ]
    losses = head.loss(inputs, samples, None)
    assert losses['loss_ce'].requires_grad and torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    assert head.fpn.laterals[0].weight.grad is not None
    assert head.log_logit_scale.grad is not None


def recon_head(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='PixelReconHead', in_channels=6, channels=16, num_upsample=2)
    return MODELS.build(dict(cfg, **kwargs))


def recon_inputs(size=(8, 8), image_size=(32, 32), seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        token_features=torch.randn(B, 6, *size, generator=g),
        images=torch.randn(B, 3, *image_size, generator=g),
    )


def test_recon_head_output_shape():
    head = recon_head()
    assert head(recon_inputs()).shape == (B, 3, 32, 32)
    assert head(recon_inputs(size=(5, 7))).shape == (B, 3, 20, 28)
    assert recon_head(num_upsample=1)(recon_inputs()).shape == (B, 3, 16, 16)
    assert torch.equal(head.predict(recon_inputs(), None, None), head(recon_inputs()))


def test_recon_loss_is_l1_to_the_image():
    head = recon_head(loss_weight=2.0)
    inputs = recon_inputs()
    loss = head.loss(inputs, [], None)['loss_recon']
    assert torch.allclose(loss, 2.0 * F.l1_loss(head(inputs), inputs['images']))
    loss.backward()
    assert all(p.grad is not None for p in head.parameters())


def test_recon_target_of_another_size_is_resized():
    head = recon_head()
    inputs = recon_inputs(size=(4, 6), image_size=(40, 60))  # recon 16 x 24, x2.5 smaller
    recon = head(inputs)
    loss = head.loss(inputs, [], None)['loss_recon']
    resized = F.interpolate(
        inputs['images'], size=(16, 24), mode='bilinear', align_corners=False, antialias=True
    )
    assert torch.allclose(loss, F.l1_loss(recon, resized), atol=1e-6)
    aliased = F.interpolate(inputs['images'], size=(16, 24), mode='bilinear', align_corners=False)
    assert not torch.allclose(loss, F.l1_loss(recon, aliased), atol=1e-3)
    # a slightly different aspect ratio (rounding of odd sizes) is accepted
    assert torch.isfinite(head.recon_loss(recon, torch.randn(B, 3, 33, 48)))


def test_recon_head_errors():
    head = recon_head()
    inputs = recon_inputs(image_size=(32, 64))
    with pytest.raises(ValueError, match='another aspect ratio'):
        head.loss(inputs, [], None)
    with pytest.raises(KeyError, match="'images'"):
        head.loss(dict(token_features=inputs['token_features']), [], None)
    with pytest.raises(KeyError, match="'token_features'.*PyramidTokenizer"):
        head(dict(images=inputs['images']))
    with pytest.raises(ValueError, match='same batch'):
        head.recon_loss(torch.randn(2, 3, 8, 8), torch.randn(1, 3, 8, 8))
