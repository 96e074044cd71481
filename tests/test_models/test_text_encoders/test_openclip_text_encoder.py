"""OpenCLIPTextEncoder against open_clip's encode_text and independent averaging/prompt code."""

from __future__ import annotations

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmseg.utils.get_templates import PREDEFINED_TEMPLATES

from mmpat.models.clip import build_open_clip
from mmpat.models.text_encoders import OpenCLIPTextEncoder
from mmpat.models.text_encoders.templates import TEMPLATE_SETS, get_templates


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_open_clip('ViT-test')


def _encoder(model, **kwargs):
    encoder = OpenCLIPTextEncoder(preset='ViT-test', **kwargs)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(('visual.', 'logit'))}
    encoder.text.load_state_dict(state)
    return encoder


def _reference_vocabulary(model, classes, templates):
    """Independent: encode_text on every prompt; mean of normalised, renormalised, twice."""
    out = []
    for synonyms in classes:
        per_synonym = []
        for name in synonyms:
            tokens = open_clip.tokenize([t.format(name) for t in templates])
            with torch.no_grad():
                emb = F.normalize(model.encode_text(tokens), dim=-1)
            per_synonym.append(F.normalize(emb.mean(0), dim=-1))
        out.append(F.normalize(torch.stack(per_synonym).mean(0), dim=-1))
    return torch.stack(out)


def test_template_sets():
    assert len(TEMPLATE_SETS['simple']) == 1 and TEMPLATE_SETS['simple'][0] == 'a photo of a {}.'
    assert list(TEMPLATE_SETS['vild']) == PREDEFINED_TEMPLATES['vild']
    assert list(TEMPLATE_SETS['imagenet']) == PREDEFINED_TEMPLATES['imagenet']
    maskclip = TEMPLATE_SETS['maskclip']
    assert len(maskclip) == 85 and len(set(maskclip)) == 85
    assert maskclip[:80] == TEMPLATE_SETS['imagenet']
    with pytest.raises(ValueError, match='known'):
        get_templates('nope')
    with pytest.raises(ValueError, match='exactly one'):
        get_templates(['no placeholder'])


def test_tokens_and_eot_truncated_encoding_match_open_clip(model):
    encoder = _encoder(model)
    texts = [
        'a photo of a dog.',
        'x',
        'there is a large pile of assorted things in the scene today',
    ]
    tokens = open_clip.tokenize(texts)
    assert torch.equal(encoder.tokenize(texts), tokens)
    with torch.no_grad():
        assert (encoder.encode_tokens(tokens) - model.encode_text(tokens)).abs().max() < 1e-5


@pytest.mark.parametrize('batch_size', [3, 256])
def test_vocabulary_matches_independent_averaging(model, batch_size):
    encoder = _encoder(model, templates='vild', batch_size=batch_size)
    vocab = ['sky', 'dog, puppy', ['cat', 'kitten', 'house cat']]
    classes = [('sky',), ('dog', 'puppy'), ('cat', 'kitten', 'house cat')]
    out = encoder.encode_vocabulary(vocab)
    assert out.shape == (3, 32) and not out.requires_grad
    expected = _reference_vocabulary(model, classes, TEMPLATE_SETS['vild'])
    assert (out - expected).abs().max() < 1e-5
    simple = encoder.encode_vocabulary(vocab, templates='simple')
    assert (
        simple - _reference_vocabulary(model, classes, TEMPLATE_SETS['simple'])
    ).abs().max() < 1e-5


def test_bad_vocabularies(model):
    encoder = _encoder(model, templates='simple')
    # the errors of mmpat.utils.vocabulary (the one vocabulary parser)
    with pytest.raises(ValueError, match='vocabulary is empty'):
        encoder.encode_vocabulary([])
    with pytest.raises(ValueError, match=r"Duplicate class names.*\['dog'\]"):
        encoder.encode_vocabulary(['dog', 'cat', ' dog'])
    with pytest.raises(ValueError, match=r"Duplicate class names.*\['dog'\]"):
        encoder.encode_vocabulary(['Dog, puppy', 'cat', 'dog'])  # first names, any case
    with pytest.raises(TypeError, match='class 1 is 3'):
        encoder.encode_vocabulary(['dog', 3])
    # a "cat; dog, puppy" string is the vocabulary of the list
    torch.testing.assert_close(
        encoder.encode_vocabulary('cat; dog, puppy'),
        encoder.encode_vocabulary(['cat', 'dog, puppy']),
    )
    long_name = ' '.join(['verylongword'] * 80)
    with pytest.warns(UserWarning, match='verylongword'):
        out = encoder.encode_vocabulary(['cat', long_name])
    # Truncated like open_clip's tokenizer: same embedding as encode_text on the cut prompt.
    expected = _reference_vocabulary(model, [(long_name,)], TEMPLATE_SETS['simple'])
    assert (out[1] - expected[0]).abs().max() < 1e-5


def test_cache_reused_and_invalidated(tmp_path, model, monkeypatch):
    vocab = ['sky', 'dog, puppy']
    first = _encoder(model, templates='simple', cache_dir=str(tmp_path))
    out = first.encode_vocabulary(vocab)
    files = list(tmp_path.glob('text_*.pt'))
    assert len(files) == 1

    calls = []
    original = OpenCLIPTextEncoder.encode_tokens

    def counting(self, tokens):
        calls.append(len(tokens))
        return original(self, tokens)

    monkeypatch.setattr(OpenCLIPTextEncoder, 'encode_tokens', counting)
    second = _encoder(model, templates='simple', cache_dir=str(tmp_path))
    assert torch.equal(second.encode_vocabulary(vocab), out)
    assert calls == []
    second.encode_vocabulary(vocab, templates='vild')  # other templates
    assert calls
    calls.clear()
    second.encode_vocabulary(['sky', 'dog'])  # other names
    assert calls
    calls.clear()
    with torch.no_grad():
        second.text.ln_final.bias.add_(0.5)  # other weights
    changed = second.encode_vocabulary(vocab)
    assert calls and (changed - out).abs().max() > 1e-4
    calls.clear()
    for path in tmp_path.glob('text_*.pt'):
        path.write_bytes(b'corrupt')
    with pytest.warns(UserWarning, match='unreadable'):
        again = first.encode_vocabulary(vocab)
    assert calls and torch.allclose(again, out, atol=1e-6)
    assert not list(tmp_path.glob('.text_*'))  # no temporary files left behind


def test_prompts_match_reference_and_get_gradients(model):
    encoder = _encoder(model, batch_size=4)
    torch.manual_seed(1)
    context = (0.02 * torch.randn(2, 3, 32)).requires_grad_()
    vocab = ['dog', 'cat, kitten']
    out = encoder.encode_with_prompts(context, vocab)
    assert out.shape == (2, 2, 32)
    # Independent: full-length open_clip text transformer on "X X X name." with X replaced.
    expected = torch.zeros(2, 2, 32)
    with torch.no_grad():
        for p in range(2):
            per_class = []
            for synonyms in (['dog'], ['cat', 'kitten']):
                embs = []
                for name in synonyms:
                    tokens = open_clip.tokenize([f'X X X {name}.'])
                    x = model.token_embedding(tokens).clone()
                    x[0, 1:4] = context[p]
                    x = model.transformer(x + model.positional_embedding, attn_mask=model.attn_mask)
                    x = model.ln_final(x)[0, tokens[0].argmax()] @ model.text_projection
                    embs.append(F.normalize(x, dim=-1))
                per_class.append(F.normalize(torch.stack(embs).mean(0), dim=-1))
            expected[p] = torch.stack(per_class)
    assert (out.detach() - expected).abs().max() < 1e-5
    (out * torch.randn_like(out)).sum().backward()
    assert context.grad is not None and context.grad.abs().sum() > 0
    assert all(p.grad is None for p in encoder.parameters())
    with pytest.raises(ValueError, match='text width'):
        encoder.encode_with_prompts(torch.zeros(1, 3, 7), vocab)


def test_frozen_and_trainable(model):
    assert not any(p.requires_grad for p in _encoder(model).parameters())
    trainable = _encoder(model, frozen=False, templates='simple')
    out = trainable.encode_vocabulary(['dog', 'cat'])
    out[:, 0].sum().backward()
    assert trainable.text.text_projection.grad is not None
