"""GroupTextMILLoss: against a loop reference, best-group behaviour, 2 processes == 1, wiring."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.two_processes import run_in_two_processes
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmpat.models.losses import GroupTextMILLoss

B, S, K, DIN, D = 3, 4, 2, 6, 5


def make_data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        groups=torch.randn(2 * B, S, DIN, generator=g),
        prompts=torch.randn(2 * B, K, DIN, generator=g),
        weight=torch.randn(D, DIN, generator=g),
    )


def reference(groups, prompts, scale):
    """The module docstring's formula with loops."""
    groups = groups / groups.norm(dim=-1, keepdim=True)
    prompts = prompts / prompts.norm(dim=-1, keepdim=True)
    n = groups.shape[0]

    def m(p_img, p_k, b):  # score of prompt (p_img, p_k) against image b
        return scale * max(float(prompts[p_img, p_k] @ groups[b, g]) for g in range(S))

    p2i = 0.0
    for i in range(n):
        for k in range(K):
            row = torch.tensor([m(i, k, b) for b in range(n)])
            p2i -= float(torch.log_softmax(row, 0)[i])
    i2p = 0.0
    for b in range(n):
        row = torch.tensor([m(i, k, b) for i in range(n) for k in range(K)])
        logp = torch.log_softmax(row, 0)
        i2p -= sum(float(logp[b * K + k]) / K for k in range(K))
    return 0.5 * (p2i / (n * K) + i2p / n)


def run_loss(data, rows):
    weight = data['weight'].clone().requires_grad_(True)
    scale = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    out = GroupTextMILLoss()(
        data['groups'][rows] @ weight.t(), data['prompts'][rows] @ weight.t(), scale
    )['loss_group_text']
    out.backward()
    return dict(loss=out.detach(), grads=torch.cat([weight.grad.flatten(), scale.grad[None]]))


def test_matches_loop_reference():
    data = make_data()
    w = data['weight']
    groups, prompts = data['groups'] @ w.t(), data['prompts'] @ w.t()
    out = GroupTextMILLoss(loss_weight=2.0)(groups, prompts, torch.tensor(math.log(1 / 0.07)))
    expected = 2.0 * reference(groups, prompts, 1 / 0.07)
    assert float(out['loss_group_text']) == pytest.approx(expected, rel=1e-5)


def test_one_matching_group_is_enough():
    torch.manual_seed(0)
    prompts = torch.randn(4, 1, 8)
    groups = torch.randn(4, 3, 8)
    loss = GroupTextMILLoss()
    scale = torch.tensor(math.log(30.0))
    before = float(loss(groups, prompts, scale)['loss_group_text'])
    groups[:, 2] = prompts[:, 0]  # one group of every image is its prompt; others unchanged
    after = float(loss(groups, prompts, scale)['loss_group_text'])
    assert after < 0.5 * before
    # the mean over groups would not single that group out; the max does
    assert after < 0.1


def _rank_loss(rank, world):
    return run_loss(make_data(), slice(rank * B, (rank + 1) * B))


def test_two_processes_equal_single_process(tmp_path):
    distributed = run_in_two_processes(_rank_loss, tmp_path)
    single = run_loss(make_data(), slice(0, 2 * B))
    assert torch.allclose(distributed['loss'], single['loss'], atol=1e-5)
    assert torch.allclose(distributed['grads'], single['grads'], atol=1e-5)


@pytest.mark.parametrize(
    ('groups', 'prompts', 'message'),
    [
        (torch.rand(2, 3), torch.rand(2, 1, 3), r'must be \[B, S, D\]'),
        (torch.rand(2, 3, 4), torch.rand(3, 1, 4), 'same batch and channel sizes'),
    ],
)
def test_bad_shapes(groups, prompts, message):
    with pytest.raises(ValueError, match=message):
        GroupTextMILLoss()(groups, prompts, torch.tensor(1.0))


def test_pretrain_wiring():
    cfg = dict(
        type='GroupViTPretrain',
        arch='GroupViT-test',
        num_prompts=1,
        noun_phrases=True,
        group_text_loss=dict(type='GroupTextMILLoss', loss_weight=0.5),
    )
    model = MODELS.build(cfg)
    samples = [SegDataSample(metainfo=dict(caption=c)) for c in ('a red circle', 'a blue star')]
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    assert losses['loss_group_text'] > 0
    losses['loss_group_text'].backward()
    assert model.multi_label_logit_scale.grad is not None
    assert model.img_projector.linear_out.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='set num_prompts > 0'):
        MODELS.build(dict(cfg, num_prompts=0))
