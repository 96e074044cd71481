"""GroupUsageLoss: values at the known extremes, per-image vs batch usage, wiring, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from scenes_models import pretrain_cfg

from mmpat.models.segmentors.groupvit_pretrain import groups_in_use
from projects.groupvit_scenes.groupvit_scenes import GroupUsageLoss


def _one_hot_assign(groups_per_token: list[list[int]], num_groups: int) -> torch.Tensor:
    """[B, S, N] one-hot assignment from per-image token -> group lists."""
    index = torch.tensor(groups_per_token)
    return F.one_hot(index, num_groups).permute(0, 2, 1).float()


def test_collapse_costs_one_and_even_confident_split_costs_zero():
    loss = GroupUsageLoss(loss_weight=1.0, token_weight=1.0)
    collapsed = _one_hot_assign([[0] * 8, [2] * 8], 4)
    even = _one_hot_assign([[0, 1, 2, 3] * 2, [3, 2, 1, 0] * 2], 4)
    assert float(loss([collapsed])['loss_groups']) == pytest.approx(1.0)
    assert float(loss([even])['loss_groups']) == pytest.approx(0.0, abs=1e-6)
    # An undecided (uniform) assignment uses every group evenly but no token picks one.
    uniform = torch.full((2, 4, 8), 0.25)
    assert float(loss([uniform])['loss_groups']) == pytest.approx(1.0)
    assert float(GroupUsageLoss(token_weight=0.0)([uniform])['loss_groups']) == pytest.approx(0.0)


def test_usage_entropy_value_against_a_hand_computation():
    # One image, 4 tokens, 2 groups: 3 tokens in group 0, 1 in group 1 (confident).
    assign = _one_hot_assign([[0, 0, 0, 1]], 2)
    usage_entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    expected = 0.5 * (math.log(2) - usage_entropy) / math.log(2)
    out = GroupUsageLoss(loss_weight=0.5)([assign])['loss_groups']
    assert float(out) == pytest.approx(expected, rel=1e-5)


def test_batch_usage_allows_one_group_per_image_per_image_usage_does_not():
    # Image 0 puts everything in group 0, image 1 in group 1: balanced over the batch only.
    assign = _one_hot_assign([[0] * 6, [1] * 6], 2)
    per_image = GroupUsageLoss(per_image=True)([assign])['loss_groups']
    batch = GroupUsageLoss(per_image=False)([assign])['loss_groups']
    assert float(per_image) == pytest.approx(1.0)
    assert float(batch) == pytest.approx(0.0, abs=1e-6)


def test_stages_are_averaged_and_single_group_stages_skipped():
    loss = GroupUsageLoss()
    collapsed = _one_hot_assign([[1] * 5], 3)
    even = _one_hot_assign([[0, 1, 2, 0, 1, 2]], 3)
    single = torch.ones(1, 1, 6)
    assert float(loss([collapsed, even])['loss_groups']) == pytest.approx(0.5)
    assert float(loss([collapsed, single])['loss_groups']) == pytest.approx(1.0)
    assert float(loss([single])['loss_groups']) == 0.0


def test_gradient_descent_undoes_a_collapse():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 16) * 0.1
    logits[:, 0] += 3.0  # every token prefers group 0
    logits.requires_grad_(True)
    assert float(groups_in_use(logits.softmax(1))) == 1.0
    loss_fn = GroupUsageLoss()
    start = float(loss_fn([logits.detach().softmax(dim=1)])['loss_groups'])
    optimizer = torch.optim.SGD([logits], lr=20.0)
    for _ in range(200):
        optimizer.zero_grad()
        loss_fn([logits.softmax(dim=1)])['loss_groups'].backward()
        optimizer.step()
    assert float(groups_in_use(logits.softmax(1))) == 4.0
    assert float(loss_fn([logits.detach().softmax(dim=1)])['loss_groups']) < 0.5 * start


@pytest.mark.parametrize(
    ('kwargs', 'inputs', 'message'),
    [
        (dict(loss_weight=-1.0), [torch.rand(1, 2, 3)], 'must be >= 0'),
        (dict(), [], 'at least one grouping stage'),
        (dict(), [torch.rand(2, 3)], r'stage 0 assignment must be \[B, S, N\], got \(2, 3\)'),
    ],
)
def test_bad_input_messages(kwargs, inputs, message):
    with pytest.raises(ValueError, match=message):
        GroupUsageLoss(**kwargs)(inputs)


def test_pretrain_adds_the_term_and_its_gradient_reaches_the_grouping_blocks():
    samples = [
        SegDataSample(metainfo=dict(caption=c)) for c in ('a red circle', 'a blue star on grass')
    ]
    torch.manual_seed(0)
    images = torch.randn(2, 3, 64, 64)
    plain = MODELS.build(dict(type='GroupViTPretrain', arch='GroupViT-test', num_prompts=1))
    assert 'loss_groups' not in plain.loss(images, samples)  # the paper's recipe: no extra term
    model = MODELS.build(
        pretrain_cfg(num_prompts=1, group_loss=dict(type='GroupUsageLoss', loss_weight=0.7))
    )
    losses = model.loss(images, samples)
    assert 0.0 < float(losses['loss_groups']) <= 0.7
    losses['loss_groups'].backward()
    key_grad = model.backbone.layers[0].downsample.assign.k_proj.weight.grad
    assert key_grad is not None and key_grad.abs().sum() > 0
    assert model.text_encoder.token_embedding.weight.grad is None  # images only


def test_stage_selection():
    collapsed = _one_hot_assign([[1] * 5], 3)
    even = _one_hot_assign([[0, 1, 2, 0, 1, 2]], 3)
    assert float(GroupUsageLoss(stages=[0])([collapsed, even])['loss_groups']) == 1.0
    assert float(GroupUsageLoss(stages=[1])([collapsed, even])['loss_groups']) == 0.0
    with pytest.raises(ValueError, match=r'stages \[2\] but the model has 2 grouping'):
        GroupUsageLoss(stages=[2])([collapsed, even])


def test_composite_usage_sees_the_tokens_through_both_stages():
    # Stage 1 puts the 6 tokens in groups 0 and 1 of 4; stage 2 sends groups 0, 1 to final
    # group 0 and the EMPTY groups 2, 3 to final group 1: per stage the second stage looks
    # balanced (0), but every token ends in final group 0 (collapse: 1).
    first = _one_hot_assign([[0, 0, 0, 1, 1, 1]], 4)
    second = _one_hot_assign([[0, 0, 1, 1]], 2)
    per_stage = GroupUsageLoss(token_weight=0.0)([first, second])['loss_groups']
    assert float(per_stage) == pytest.approx(0.25)  # stage 1: 0.5, stage 2: 0
    composite = GroupUsageLoss(token_weight=0.0, composite=True)([first, second])['loss_groups']
    assert float(composite) == pytest.approx(1.0)
    with pytest.raises(ValueError, match='leave stages unset'):
        GroupUsageLoss(composite=True, stages=[1])
