"""GroupPurityLoss against a loop reference; it separates what the tokens name; wiring."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from scenes_models import pretrain_cfg

from projects.groupvit_scenes.groupvit_scenes import GroupPurityLoss


def _entropy(p):
    return -sum(x * math.log(x) for x in p if x > 0)


def reference(assign, tokens, texts, scale):
    """The docstring's formula with loops: sum_g w_g H(m_g) - mean_n H(q_n), over log P."""
    total = 0.0
    for b in range(assign.shape[0]):
        q = []
        for n in range(tokens.shape[1]):
            t = F.normalize(tokens[b, n], dim=0)
            logits = [scale * float(t @ F.normalize(x, dim=0)) for x in texts]
            e = [math.exp(v) for v in logits]
            q.append([v / sum(e) for v in e])
        mixed = 0.0
        for g in range(assign.shape[1]):
            size = float(assign[b, g].sum())
            if size == 0:
                continue
            m = [
                sum(float(assign[b, g, n]) * q[n][p] for n in range(len(q))) / size
                for p in range(len(texts))
            ]
            mixed += size / len(q) * _entropy(m)
        total += mixed - sum(_entropy(d) for d in q) / len(q)
    return total / assign.shape[0] / math.log(len(texts))


def test_group_purity_matches_loop_reference_and_is_zero_for_pure_groups():
    g = torch.Generator().manual_seed(0)
    tokens, texts = torch.randn(2, 5, 6, generator=g), torch.randn(4, 6, generator=g)
    assign = torch.rand(2, 3, 5, generator=g).softmax(dim=1)  # soft, columns sum to 1
    out = GroupPurityLoss(loss_weight=2.0)(assign, tokens, texts, torch.tensor(math.log(3.0)))
    expected = 2.0 * reference(assign, tokens, texts, 3.0)
    assert out['loss_group_purity'].item() == pytest.approx(expected, rel=1e-5)
    assert expected > 0
    # tokens 0-1 alike, 2-4 alike: grouped by what they name -> 0; mixed -> > 0
    alike = torch.stack([texts[0], texts[0], texts[1], texts[1], texts[1]])[None]
    pure = F.one_hot(torch.tensor([[0, 0, 2, 2, 2]]), 3).transpose(1, 2).float()
    mixed = F.one_hot(torch.tensor([[0, 2, 2, 0, 2]]), 3).transpose(1, 2).float()
    loss_fn = GroupPurityLoss()
    scale = torch.tensor(math.log(10.0))
    assert loss_fn(pure, alike, texts, scale)['loss_group_purity'].item() == pytest.approx(
        0.0, abs=1e-6
    )
    assert loss_fn(mixed, alike, texts, scale)['loss_group_purity'].item() > 0.05
    # splitting tokens that name alike costs nothing either
    split = F.one_hot(torch.tensor([[0, 1, 2, 2, 2]]), 3).transpose(1, 2).float()
    assert loss_fn(split, alike, texts, scale)['loss_group_purity'].item() == pytest.approx(
        0.0, abs=1e-6
    )


def test_group_purity_gradient_moves_the_grouping_to_what_the_tokens_name():
    g = torch.Generator().manual_seed(1)
    texts = torch.randn(3, 8, generator=g)
    owner = [0, 0, 0, 1, 1, 1, 2, 2]  # what each token names
    tokens = torch.stack([texts[o] for o in owner])[None] + 0.05 * torch.randn(1, 8, 8, generator=g)
    tokens.requires_grad_(True)
    # start: two groups, each with a mixture of the three kinds
    logits = torch.randn(1, 2, 8, generator=g).mul(0.1).requires_grad_(True)
    loss_fn = GroupPurityLoss()
    scale = torch.tensor(math.log(20.0))
    start = loss_fn(logits.softmax(1), tokens, texts, scale)['loss_group_purity'].item()
    optimiser = torch.optim.SGD([logits], lr=50.0)
    for _ in range(200):
        optimiser.zero_grad()
        loss_fn(logits.softmax(1), tokens, texts, scale)['loss_group_purity'].backward()
        optimiser.step()
    assert tokens.grad is None  # the tokens are not pulled toward their group
    end = loss_fn(logits.softmax(1), tokens, texts, scale)['loss_group_purity'].item()
    assert end < 0.5 * start
    group = logits.argmax(dim=1)[0].tolist()
    # the two kinds that are alone in the end never share a group with another kind
    assert len({group[i] for i in range(3)}) == 1 and len({group[i] for i in range(3, 6)}) == 1
    assert group[0] != group[3]


def test_group_purity_errors():
    loss_fn = GroupPurityLoss()
    scale = torch.tensor(1.0)
    with pytest.raises(ValueError, match='loss_weight must be >= 0'):
        GroupPurityLoss(loss_weight=-1.0)
    with pytest.raises(ValueError, match=r'token_groups must be \[B, S, N\]'):
        loss_fn(torch.rand(3, 5), torch.randn(1, 5, 4), torch.randn(3, 4), scale)
    with pytest.raises(ValueError, match='same batch and token counts'):
        loss_fn(torch.rand(1, 3, 5), torch.randn(1, 6, 4), torch.randn(3, 4), scale)
    with pytest.raises(ValueError, match=r'text_emb must be \[P >= 2, 4\]'):
        loss_fn(torch.rand(1, 3, 5), torch.randn(1, 5, 4), torch.randn(1, 4), scale)


def test_pretrain_group_purity_loss_wiring(pretrain_losses):
    token_loss = dict(type='GroupTextMILLoss', loss_name='loss_token_text')
    purity = dict(type='GroupPurityLoss')
    model, losses = pretrain_losses(token_text_loss=token_loss, group_purity_loss=purity)
    assert losses['loss_group_purity'].item() >= 0
    assert 1 <= losses['groups_final'].item() <= losses['groups_stage2'].item()
    losses['loss_group_purity'].backward()
    grouping = model.backbone.layers[0].downsample  # the first grouping block
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in grouping.parameters())
    assert (
        model.extension.token_projector[1].weight.grad is None
    )  # the tokens only say what they name
    with pytest.raises(ValueError, match='set token_text_loss'):
        MODELS.build(pretrain_cfg(group_purity_loss=purity))
