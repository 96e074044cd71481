"""GroupTextMILLoss: against a loop reference, best-group behaviour, 2 processes == 1, wiring."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.two_processes import run_in_two_processes
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from scenes_models import pretrain_cfg

from mmpat.models.segmentors.groupvit_pretrain import tokens_to_final_groups
from projects.groupvit_scenes.groupvit_scenes import GroupTextMILLoss

B, S, K, DIN, D = 3, 4, 2, 6, 5


def make_data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        groups=torch.randn(2 * B, S, DIN, generator=g),
        prompts=torch.randn(2 * B, K, DIN, generator=g),
        weight=torch.randn(D, DIN, generator=g),
    )


def reference(groups, prompts, scale, own_image_negatives=False, chosen=None):
    """The module docstring's formula with loops (``chosen[i][k]``: the group of prompt k in its
    own image i, instead of the best match)."""
    groups = groups / groups.norm(dim=-1, keepdim=True)
    prompts = prompts / prompts.norm(dim=-1, keepdim=True)
    n = groups.shape[0]

    def m(p_img, p_k, b):  # score of prompt (p_img, p_k) against image b
        if chosen is not None and b == p_img:
            return scale * float(prompts[p_img, p_k] @ groups[b, chosen[p_img][p_k]])
        return scale * max(float(prompts[p_img, p_k] @ groups[b, g]) for g in range(S))

    p2i = 0.0
    for i in range(n):
        for k in range(K):
            scores = [m(i, k, b) for b in range(n)]
            if own_image_negatives:  # the other groups of image i, all but its best one
                own = [scale * float(prompts[i, k] @ groups[i, g]) for g in range(S)]
                best = max(range(S), key=own.__getitem__) if chosen is None else chosen[i][k]
                scores += [v for g, v in enumerate(own) if g != best]
            p2i -= float(torch.log_softmax(torch.tensor(scores), 0)[i])
    i2p = 0.0
    for b in range(n):
        row = torch.tensor([m(i, k, b) for i in range(n) for k in range(K)])
        logp = torch.log_softmax(row, 0)
        i2p -= sum(float(logp[b * K + k]) / K for k in range(K))
    return 0.5 * (p2i / (n * K) + i2p / n)


def run_loss(data, rows, **options):
    weight = data['weight'].clone().requires_grad_(True)
    scale = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    mask = torch.ones(2 * B, S, dtype=torch.bool)
    mask[::2, 1] = False  # some groups hold no token
    losses = GroupTextMILLoss(**options)(
        data['groups'][rows] @ weight.t(),
        data['prompts'][rows] @ weight.t(),
        scale,
        group_mask=mask[rows],
    )
    out = sum(losses.values())
    out.backward()
    return dict(loss=out.detach(), grads=torch.cat([weight.grad.flatten(), scale.grad[None]]))


@pytest.mark.parametrize('own_image_negatives', [False, True])
def test_matches_loop_reference(own_image_negatives):
    data = make_data()
    w = data['weight']
    groups, prompts = data['groups'] @ w.t(), data['prompts'] @ w.t()
    loss = GroupTextMILLoss(loss_weight=2.0, own_image_negatives=own_image_negatives)
    out = loss(groups, prompts, torch.tensor(math.log(1 / 0.07)))
    expected = 2.0 * reference(groups, prompts, 1 / 0.07, own_image_negatives)
    assert float(out['loss_group_text']) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('own_image_negatives', [False, True])
def test_selection_chooses_the_group_of_each_prompt(own_image_negatives):
    data = make_data()
    w = data['weight']
    groups, prompts = data['groups'] @ w.t(), data['prompts'] @ w.t()
    chosen = torch.randint(0, S, (2 * B, K), generator=torch.Generator().manual_seed(1))
    selection = torch.nn.functional.one_hot(chosen, S).transpose(1, 2).float()  # [B, S, K]
    loss = GroupTextMILLoss(own_image_negatives=own_image_negatives)
    scale = torch.tensor(math.log(1 / 0.07))
    out = loss(groups, prompts, scale, selection=selection)['loss_group_text']
    expected = reference(groups, prompts, 1 / 0.07, own_image_negatives, chosen.tolist())
    assert float(out) == pytest.approx(expected, rel=1e-5)
    assert float(out) != pytest.approx(reference(groups, prompts, 1 / 0.07, own_image_negatives))
    with pytest.raises(ValueError, match='selection must be'):
        loss(groups, prompts, scale, selection=selection[:, :, :1])


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


def test_own_image_negatives_penalise_groups_that_echo_the_best_one():
    torch.manual_seed(0)
    prompts = torch.randn(4, 1, 8)
    distinct = torch.randn(4, 3, 8)
    distinct[:, 2] = prompts[:, 0]  # one group per image is its prompt, the others unrelated
    echo = distinct.clone()
    echo[:, 1] = prompts[:, 0] + 0.1 * torch.randn(4, 8)  # a second group echoes the prompt
    scale = torch.tensor(math.log(30.0))
    plain, own = GroupTextMILLoss(), GroupTextMILLoss(own_image_negatives=True)
    # the plain max cannot tell the two apart; with own-image negatives the echo costs
    assert float(plain(echo, prompts, scale)['loss_group_text']) == pytest.approx(
        float(plain(distinct, prompts, scale)['loss_group_text']), abs=0.02
    )
    assert float(own(echo, prompts, scale)['loss_group_text']) > 2 * float(
        own(distinct, prompts, scale)['loss_group_text']
    )


ALL_OPTIONS = dict(own_image_negatives=True, unmatched_weight=0.5)


def _rank_loss(rank, world):
    return run_loss(make_data(), slice(rank * B, (rank + 1) * B), **ALL_OPTIONS)


def test_two_processes_equal_single_process(tmp_path):
    distributed = run_in_two_processes(_rank_loss, tmp_path)
    single = run_loss(make_data(), slice(0, 2 * B), **ALL_OPTIONS)
    assert torch.allclose(distributed['loss'], single['loss'], atol=1e-5)
    assert torch.allclose(distributed['grads'], single['grads'], atol=1e-5)


def test_empty_groups_never_win():
    torch.manual_seed(0)
    prompts = torch.randn(4, 1, 8)
    groups = torch.randn(4, 3, 8)
    groups[:, 2] = prompts[:, 0]  # the perfect match ...
    mask = torch.ones(4, 3, dtype=torch.bool)
    loss, scale = GroupTextMILLoss(), torch.tensor(math.log(30.0))
    matched = float(loss(groups, prompts, scale, group_mask=mask)['loss_group_text'])
    mask[:, 2] = False  # ... is an empty group: as if it were not there
    masked = float(loss(groups, prompts, scale, group_mask=mask)['loss_group_text'])
    without = float(loss(groups[:, :2], prompts, scale)['loss_group_text'])
    assert masked == pytest.approx(without, rel=1e-5)
    assert masked > 5 * matched
    with pytest.raises(ValueError, match='a True in every row'):
        loss(groups, prompts, scale, group_mask=torch.zeros(4, 3, dtype=torch.bool))


def test_unmatched_groups_are_trained_to_name_nothing():
    torch.manual_seed(0)
    dim = 8
    prompts = torch.eye(dim)[:4, None]  # one prompt per image, orthonormal
    groups = torch.zeros(4, 3, dim)
    groups[:, 0] = prompts[:, 0]  # the picked group of each image: its prompt
    groups[:, 1, 5] = 1.0  # orthogonal to every prompt: scores all equal, entropy maximal
    groups[:, 2, 6] = 1.0
    loss = GroupTextMILLoss(unmatched_weight=2.0)
    scale = torch.tensor(math.log(30.0))
    flat = loss(groups, prompts, scale)
    assert float(flat['loss_group_unmatched']) == pytest.approx(0.0, abs=1e-6)
    groups[:, 1] = prompts[:, 0]  # an unpicked group that names the image's object
    groups[:, 0] = prompts[:, 0] * 1.01  # (stays the picked one)
    peaked = loss(groups, prompts, scale)['loss_group_unmatched']
    logp = (30.0 * torch.eye(4)).log_softmax(dim=-1)[0]  # its scores over the 4 prompts
    gap = 1 + float((logp.exp() * logp).sum()) / math.log(4)
    assert float(peaked) == pytest.approx(2.0 * gap / 3, rel=1e-4)  # 1 of the 3 slots per image


def test_group_sizes_follow_the_tokens_through_the_stages():
    first = torch.zeros(1, 3, 5)
    first[0, 0, [0, 1]] = 1  # tokens -> 3 groups: sizes 2, 3, 0
    first[0, 1, [2, 3, 4]] = 1
    second = torch.zeros(1, 2, 3)
    second[0, 1, [0, 1, 2]] = 1  # every first-stage group -> group 1
    assert tokens_to_final_groups([first]).sum(dim=-1).tolist() == [[2.0, 3.0, 0.0]]
    assert tokens_to_final_groups([first, second]).sum(dim=-1).tolist() == [[0.0, 5.0]]


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
        num_prompts=1,
        noun_phrases=True,
        group_text_loss=dict(type='GroupTextMILLoss', loss_weight=0.5, unmatched_weight=1.0),
    )
    model = MODELS.build(pretrain_cfg(**cfg))
    samples = [SegDataSample(metainfo=dict(caption=c)) for c in ('a red circle', 'a blue star')]
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    assert losses['loss_group_text'] > 0
    assert 'loss_group_unmatched' in losses
    losses['loss_group_text'].backward()
    assert model.multi_label_logit_scale.grad is not None
    assert model.img_projector.linear_out.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='set num_prompts > 0'):
        MODELS.build(pretrain_cfg(**dict(cfg, num_prompts=0)))
