"""DenseCLIPHead against a straightforward per-pixel computation."""

import numpy as np
import pytest
import torch

from mmpat.models.decode_heads import DenseCLIPHead


def reference_logits(dense: np.ndarray, texts: np.ndarray, scale: float) -> np.ndarray:
    batch, _, height, width = dense.shape
    out = np.zeros((batch, len(texts), height, width))
    for b in range(batch):
        for i in range(height):
            for j in range(width):
                pixel = dense[b, :, i, j] / np.linalg.norm(dense[b, :, i, j])
                out[b, :, i, j] = scale * texts @ pixel
    return out


def make_inputs(classes: int = 4, dim: int = 8):
    torch.manual_seed(0)
    texts = torch.nn.functional.normalize(torch.randn(classes, dim), dim=1)
    dense = torch.randn(2, dim, 5, 6)
    pyramid = (torch.randn(2, 16, 5, 6),)
    return dict(dense=dense, class_embeddings=texts, pyramid=pyramid)


def test_logits_are_scaled_cosines():
    inputs = make_inputs()
    head = DenseCLIPHead(logit_scale=50.0, num_classes=4)
    got = head(inputs).detach().numpy()
    expected = reference_logits(inputs['dense'].numpy(), inputs['class_embeddings'].numpy(), 50.0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_key_smoothing_averages_logits_of_similar_keys():
    inputs = make_inputs()
    head = DenseCLIPHead(key_smoothing=True, key_smoothing_temperature=0.2, num_classes=4)
    plain = DenseCLIPHead(num_classes=4)(inputs).detach()
    got = head(inputs).detach()
    keys = inputs['pyramid'][-1].flatten(2)
    keys = keys / keys.norm(dim=1, keepdim=True)
    for b in range(2):
        affinity = torch.softmax(keys[b].T @ keys[b] / 0.2, dim=-1)  # [N, N]
        expected = (affinity @ plain[b].flatten(1).T).T.reshape(plain[b].shape)
        torch.testing.assert_close(got[b], expected, rtol=1e-4, atol=1e-4)


def test_prompt_denoising_suppresses_weak_classes_only():
    inputs = make_inputs(classes=3)
    inputs['class_embeddings'] = torch.eye(3, 8)
    inputs['dense'] = torch.zeros(1, 8, 2, 2)
    inputs['dense'][:, 0] = 1.0  # every pixel is class 0
    inputs['dense'][:, 1, 0, 0] = 3.0  # one pixel is clearly class 1
    head = DenseCLIPHead(logit_scale=10.0, denoise_threshold=0.5, num_classes=3)
    logits = head(inputs)
    probs_before = DenseCLIPHead(logit_scale=10.0, num_classes=3)(inputs).softmax(1)
    assert probs_before[0, 2].max() < 0.5  # class 2 is weak everywhere
    assert torch.all(logits[0, 2] == logits[0].min())
    assert logits.argmax(1)[0, 0, 0] == 1 and logits.argmax(1)[0, 1, 1] == 0


def test_mismatched_embedding_sizes_are_explained():
    inputs = make_inputs()
    inputs['class_embeddings'] = torch.randn(4, 7)
    with pytest.raises(ValueError, match='different CLIPs'):
        DenseCLIPHead(num_classes=4)(inputs)


def test_background_rule_labels_pixels_without_a_confident_class():
    inputs = make_inputs(classes=3)  # the text-encoded classes: all but 'background'
    threshold = 0.6
    head = DenseCLIPHead(logit_scale=10.0, background_threshold=threshold, num_classes=4)
    assert head.text_classes(['background', 'a', 'b', 'c']) == ['a', 'b', 'c']
    assert head.text_classes(['a', 'background']) == ['a', 'background']  # only a leading one
    out = head(inputs).detach()
    assert out.shape == (2, 4, 5, 6)
    logits = reference_logits(inputs['dense'].numpy(), inputs['class_embeddings'].numpy(), 10.0)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = np.where(probs.max(1) < threshold, 0, probs.argmax(1) + 1)
    assert 0 < (expected == 0).mean() < 1  # the fixture has both kinds of pixels
    np.testing.assert_array_equal(out.argmax(1).numpy(), expected)
    # Without a leading background class (every class encoded) the rule is off.
    plain = DenseCLIPHead(logit_scale=10.0, background_threshold=threshold, num_classes=3)
    np.testing.assert_allclose(plain(inputs).detach().numpy(), logits, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r'background_threshold must be a probability'):
        DenseCLIPHead(background_threshold=1.5)
