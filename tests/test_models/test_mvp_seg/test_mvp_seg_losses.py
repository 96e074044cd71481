"""OCLoss, FusedMaskNLLLoss and PresenceBCELoss against direct computations."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

import mmpat  # noqa: F401
from mmpat.models.losses import presence_targets


def _oc(**kwargs):
    return MODELS.build(dict(type='OCLoss', **kwargs))


def test_oc_loss_is_zero_for_orthogonal_prompts_and_positive_otherwise():
    basis = torch.eye(6)[:3]  # three orthogonal mean directions
    ctx = basis[:, None, :] + torch.randn(3, 4, 6) * 0  # [k, n_ctx, D]
    assert _oc()(ctx).item() == pytest.approx(0.0, abs=1e-7)
    # Context vectors whose means are orthogonal, each vector not: still zero.
    noisy = ctx.clone()
    noisy[:, 0] += 0.5 * torch.tensor([0.0, 0, 0, 1, 0, 0])
    noisy[:, 1] -= 0.5 * torch.tensor([0.0, 0, 0, 1, 0, 0])
    assert _oc()(noisy).item() == pytest.approx(0.0, abs=1e-6)
    torch.manual_seed(0)
    random = torch.randn(3, 4, 6)
    means = F.normalize(random.mean(1), dim=-1)
    expected = sum(abs(float(means[i] @ means[j])) for i, j in itertools.combinations(range(3), 2))
    assert _oc(loss_weight=2.0)(random).item() == pytest.approx(2 * expected, rel=1e-5)
    assert _oc()(random[:1]).item() == 0.0  # one prompt: no pair
    same = random[:1].expand(2, -1, -1)
    assert _oc()(same).item() == pytest.approx(1.0, rel=1e-5)  # identical prompts: |cos| = 1


def test_oc_loss_gradients():
    ctx = torch.randn(3, 2, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_oc().double(), (ctx,))
    with pytest.raises(ValueError, match=r'\[k, n_ctx, D\]'):
        _oc()(torch.randn(3, 5))


def test_fused_mask_nll_is_the_unnormalised_negative_log_likelihood():
    loss = MODELS.build(dict(type='FusedMaskNLLLoss'))
    log_masks = torch.log(torch.rand(2, 3, 4, 5) * 0.9 + 0.05)  # not normalised over classes
    label = torch.randint(0, 3, (2, 4, 5))
    label[0, 0, :2] = 255
    valid = label != 255
    picked = log_masks.permute(0, 2, 3, 1)[valid]  # [N, C]
    expected = -picked.gather(1, label[valid][:, None]).mean()
    assert loss(log_masks, label).item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.loss_name == 'loss_seg'
    assert loss(log_masks, torch.full_like(label, 255)).item() == 0.0


def test_presence_targets_and_bce():
    labels = torch.tensor([[[0, 0], [2, 255]], [[255, 255], [255, 1]]])
    targets = presence_targets(labels, 3)
    assert targets.tolist() == [[1, 0, 1], [0, 1, 0]]
    logits = torch.randn(2, 3)
    loss = MODELS.build(dict(type='PresenceBCELoss', loss_weight=0.5))
    expected = 0.5 * F.binary_cross_entropy(torch.sigmoid(logits), targets)
    assert loss(logits, labels).item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss.loss_name == 'loss_cls'
