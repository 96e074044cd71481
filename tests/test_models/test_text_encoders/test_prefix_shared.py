"""Prefix-shared prompt encoding equals the full pass (outputs and context gradients)."""

from __future__ import annotations

import pytest
import torch

from mmpat.models.clip.presets import get_clip_preset
from mmpat.models.text_encoders import OpenCLIPTextEncoder
from mmpat.models.text_encoders.prefix_shared import prefix_shared_supported

# Names of 1..11 tokens, synonyms (string and list forms), a repeated-length group.
VOCAB = [
    'cat',
    'dog, puppy',
    'traffic light',
    ['sky', 'the blue sky above the city'],
    'a very long class name with many tokens indeed',
    'x',
    'chest of drawers',
    'tree',
]


def _presets():
    deep = get_clip_preset('ViT-test')
    deep['text_cfg'] = dict(
        context_length=32, vocab_size=49408, width=48, heads=4, layers=4, ls_init_value=0.3
    )
    return {'ViT-test': 'ViT-test', 'ViT-scenes-tiny': 'ViT-scenes-tiny', 'deep-layerscale': deep}


def _encoder(preset, batch_size):
    torch.manual_seed(0)
    encoder = OpenCLIPTextEncoder(preset=preset, batch_size=batch_size)
    with torch.no_grad():  # non-trivial LayerScale / biases so every term is exercised
        for name, param in encoder.text.named_parameters():
            if name.endswith(('gamma', 'bias')) and 'ln' not in name:
                param.normal_(0, 0.3)
    return encoder


@pytest.mark.parametrize('preset', list(_presets()))
@pytest.mark.parametrize('batch_size', [1, 7, 256])
@pytest.mark.parametrize('num_prompts,n_ctx', [(1, 4), (3, 8)])
def test_prefix_shared_matches_full_pass(preset, batch_size, num_prompts, n_ctx):
    encoder = _encoder(_presets()[preset], batch_size)
    assert prefix_shared_supported(encoder.text)
    if preset == 'deep-layerscale':
        assert not isinstance(encoder.text.transformer.resblocks[0].ls_1, torch.nn.Identity)
    gen = torch.Generator().manual_seed(1)
    base = torch.randn(num_prompts, n_ctx, encoder.width, generator=gen)
    projection = torch.randn(num_prompts, len(VOCAB), encoder.embed_dim, generator=gen)

    def run(method):
        context = base.clone().requires_grad_(True)
        out = getattr(encoder, method)(context, VOCAB)
        (out * projection).sum().backward()
        return out.detach(), context.grad

    out_new, grad_new = run('encode_with_prompts')
    out_ref, grad_ref = run('_encode_with_prompts_full')
    assert out_new.shape == (num_prompts, len(VOCAB), encoder.embed_dim)
    assert (out_new - out_ref).abs().max() < 1e-5
    assert (grad_new - grad_ref).abs().max() <= 1e-5 * grad_ref.abs().max()
    assert grad_ref.abs().max() > 0


def test_unsupported_tower_uses_full_pass(monkeypatch):
    encoder = _encoder('ViT-test', 256)
    context = torch.randn(2, 4, encoder.width)
    import mmpat.models.text_encoders.openclip_text_encoder as module

    monkeypatch.setattr(module, 'prefix_shared_supported', lambda text: False)
    calls = []
    monkeypatch.setattr(module, 'encode_prefix_shared', lambda *a, **k: calls.append(1) or 1 / 0)
    out = encoder.encode_with_prompts(context, VOCAB)
    assert not calls
    torch.testing.assert_close(out, encoder._encode_with_prompts_full(context, VOCAB))
