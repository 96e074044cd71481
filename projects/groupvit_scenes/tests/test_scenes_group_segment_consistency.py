"""GroupSegmentConsistencyLoss against a loop reference; model wiring."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from scenes_models import pretrain_cfg, tiny_pretrain_with_token_loss

from mmpat.models.segmentors.groupvit_pretrain import tokens_to_final_groups
from projects.groupvit_scenes.groupvit_scenes import GroupSegmentConsistencyLoss


def _softmax_over_texts(emb, texts, scale):
    values = [math.exp(scale * float(emb / emb.norm() @ t / t.norm())) for t in texts]
    return [v / sum(values) for v in values]


def reference(groups, tokens, owner, texts, scale, teacher='segment_mean'):
    """The module docstring's formulas with loops; owner[b][n] is token n's group."""
    total, count = 0.0, 0
    for b in range(groups.shape[0]):
        for g in range(groups.shape[1]):
            members = [n for n in range(tokens.shape[1]) if owner[b][n] == g]
            if not members:
                continue
            if teacher == 'segment_mean':
                segment = sum(tokens[b, n] / tokens[b, n].norm() for n in members)
                q = _softmax_over_texts(segment, texts, scale)
            else:
                each = [_softmax_over_texts(tokens[b, n], texts, scale) for n in members]
                q = [sum(d[i] for d in each) / len(each) for i in range(len(texts))]
            p = _softmax_over_texts(groups[b, g], texts, scale)
            total += sum(qi * math.log(qi / pi) for qi, pi in zip(q, p, strict=True))
            count += 1
    return total / count


def test_group_segment_loss_matches_loop_reference_and_vanishes_on_agreement():
    g = torch.Generator().manual_seed(0)
    groups, tokens = torch.randn(2, 3, 6, generator=g), torch.randn(2, 5, 6, generator=g)
    texts = torch.randn(4, 6, generator=g)
    owner = [[0, 0, 2, 2, 2], [1, 1, 1, 1, 1]]  # group 1 of image 0 and 0, 2 of image 1: empty
    assign = F.one_hot(torch.tensor(owner), 3).transpose(1, 2).float()
    loss_fn = GroupSegmentConsistencyLoss(loss_weight=2.0)
    out = loss_fn(groups, tokens, assign, texts, torch.tensor(math.log(3.0)))
    expected = 2.0 * reference(groups, tokens, owner, texts, 3.0)
    assert out['loss_group_segment'].item() == pytest.approx(expected, rel=1e-5)
    # each group equal to its segment's mean token: nothing to learn, whatever the empty groups
    agree = groups.clone()
    for b, row in enumerate(owner):
        for s in set(row):
            members = [n for n, o in enumerate(row) if o == s]
            agree[b, s] = F.normalize(tokens[b, members], dim=-1).sum(0)
    zero = loss_fn(agree, tokens, assign, texts, torch.tensor(1.0))
    assert zero['loss_group_segment'].item() == pytest.approx(0.0, abs=1e-6)
    tokens_teacher = GroupSegmentConsistencyLoss(teacher='token_distributions')
    out = tokens_teacher(groups, tokens, assign, texts, torch.tensor(math.log(3.0)))
    expected = reference(groups, tokens, owner, texts, 3.0, teacher='token_distributions')
    assert out['loss_group_segment'].item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="teacher must be 'segment_mean'"):
        GroupSegmentConsistencyLoss(teacher='mean')
    with pytest.raises(ValueError, match='token_groups must be'):
        loss_fn(groups, tokens, assign[:, :2], texts, torch.tensor(1.0))
    with pytest.raises(ValueError, match='same batch and channel'):
        loss_fn(groups, tokens, assign, texts[:, :4], torch.tensor(1.0))


def test_group_segment_loss_trains_the_groups_only():
    groups = torch.randn(1, 2, 4, requires_grad=True)
    tokens = torch.randn(1, 3, 4, requires_grad=True)
    texts = torch.randn(5, 4, requires_grad=True)
    scale = torch.tensor(1.0, requires_grad=True)
    assign = torch.tensor([[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    out = GroupSegmentConsistencyLoss()(groups, tokens, assign, texts, scale)
    out['loss_group_segment'].backward()
    assert groups.grad.abs().sum() > 0
    assert tokens.grad is None and texts.grad is None and scale.grad is None  # the teacher


def test_tokens_to_final_groups_chains_the_stages():
    first = F.one_hot(torch.tensor([[0, 1, 2, 2, 3]]), 4).transpose(1, 2).float()  # [1, 4, 5]
    second = F.one_hot(torch.tensor([[1, 0, 1, 1]]), 2).transpose(1, 2).float()  # [1, 2, 4]
    merged = tokens_to_final_groups([first, second])
    assert merged[0].argmax(0).tolist() == [1, 0, 1, 1, 1]
    assert tokens_to_final_groups([first, second]).sum(dim=-1).tolist() == [[1.0, 4.0]]


def test_pretrain_group_segment_loss_wiring(pretrain_losses):
    token_loss = dict(type='GroupTextMILLoss', loss_name='loss_token_text')
    segment_loss = dict(type='GroupSegmentConsistencyLoss')
    model, losses = pretrain_losses(token_text_loss=token_loss, group_segment_loss=segment_loss)
    assert losses['loss_group_segment'] > 0
    losses['loss_group_segment'].backward()
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0  # through the groups
    assert model.extension.token_projector[1].weight.grad is None  # the tokens are the teacher
    with pytest.raises(ValueError, match='set token_text_loss'):
        MODELS.build(pretrain_cfg(group_segment_loss=segment_loss))


def test_pretrain_group_text_select_segment(pretrain_losses):
    token_loss = dict(type='GroupTextMILLoss', loss_name='loss_token_text')
    fields = dict(
        token_text_loss=token_loss,
        group_text_loss=dict(type='GroupTextMILLoss'),
        group_segment_loss=dict(type='GroupSegmentConsistencyLoss', teacher='token_distributions'),
    )
    _, by_embedding = pretrain_losses(**fields)
    model, by_segment = pretrain_losses(group_text_select='segment', **fields)
    assert torch.isfinite(by_segment['loss_group_text'])
    assert by_segment['loss_group_text'].item() != by_embedding['loss_group_text'].item()
    by_segment['loss_group_text'].backward()
    assert model.extension.token_projector[1].weight.grad is None  # the choice carries no gradient
    with pytest.raises(ValueError, match="group_text_select='segment' needs"):
        MODELS.build(pretrain_cfg(group_text_select='segment'))
    with pytest.raises(ValueError, match='group_text_select must be'):
        MODELS.build(pretrain_cfg(group_text_select='x'))


def test_token_group_logits_name_each_group_by_its_tokens():
    model = tiny_pretrain_with_token_loss()
    model.eval()
    model.set_vocabulary(['background', 'red circle', 'blue star', 'green square'])
    inputs = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        logits = model.extension.token_group_logits(model, feats)  # [B, S, C]
        tokens = model.extension.token_projector(feats['stage_tokens'][0])
        owner = tokens_to_final_groups(feats['assigns']).argmax(dim=1)  # [B, N]
        texts = model.class_embeddings
        scale = float(model.multi_label_logit_scale.exp().clamp(max=100))
        for b in range(2):
            for g in set(owner[b].tolist()):
                members = [n for n in range(tokens.shape[1]) if owner[b, n] == g]
                each = [_softmax_over_texts(tokens[b, n], texts, scale) for n in members]
                expected = [sum(d[c] for d in each) / len(each) for c in range(len(texts))]
                assert logits[b, g].exp().tolist() == pytest.approx(expected, abs=1e-5)
        # the protocol named by the group tokens' own logits is the default protocol
        group_emb = F.normalize(model.img_projector(feats['tokens']), dim=-1)
        own = model.logit_scale.exp().clamp(max=100) * group_emb @ texts.t()
        default = model.decode_groups(feats, (64, 64))
        assert torch.equal(model.decode_groups(feats, (64, 64), own), default)
        assert not torch.equal(model.decode_groups(feats, (64, 64), logits), default)
    bare = MODELS.build(pretrain_cfg())  # the extension without a token-level term
    with pytest.raises(ValueError, match='needs the token_projector'):
        bare.extension.token_group_logits(bare, feats)
