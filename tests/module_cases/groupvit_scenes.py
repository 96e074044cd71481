"""Cases for the GroupViT scenes project (projects/groupvit_scenes): its losses, the
``ScenesGroupingLosses`` extension of ``GroupViTPretrain`` and ``ConvStem``."""

import torch
from mmseg.structures import SegDataSample

import projects.groupvit_scenes.groupvit_scenes  # noqa: F401  (registers the project's modules)

from . import ModuleCase


def _positive_scalar(key: str):
    """A loss that returns only ``{key: scalar > 0}``."""

    def check(out) -> None:
        assert set(out) == {key}, f'keys {sorted(out)}, expected only {key!r}'
        assert out[key].shape == () and out[key].item() > 0, f'{key} = {out[key]}: not > 0'

    return check


def _check_usage(out) -> None:
    assert set(out) == {'loss_groups'}, f'keys {sorted(out)}'
    value = float(out['loss_groups'])
    assert 0 <= value <= 1.0, f'loss_groups = {value}: the weighted usage term is in [0, 1]'


def _check_stem(out) -> None:
    tokens, grid = out
    assert grid == (4, 5) and tuple(tokens.shape) == (2, 20, 16), f'{tuple(tokens.shape)} {grid}'


def _captions():
    captions = ('a red circle and a blue star', 'a green square')
    return (
        torch.randn(2, 3, 64, 64),
        [SegDataSample(metainfo=dict(caption=c)) for c in captions],
    ), {}


def _check_extended_pretrain(out) -> None:
    extra = {'loss_groups', 'loss_token_text', 'loss_noun_swap'}
    assert extra <= set(out), f'keys {sorted(out)}: the extension terms {sorted(extra)} missing'
    for key in extra | {'loss_itc', 'loss_multi_label'}:
        assert out[key].shape == () and out[key].requires_grad, f'{key} = {out[key]}'


CASES = [
    ModuleCase(
        cfg=dict(type='GroupTextMILLoss'),
        make_inputs=lambda: (
            (torch.randn(2, 3, 8, requires_grad=True), torch.randn(2, 2, 8), torch.tensor(2.0)),
            {},
        ),
        check=_positive_scalar('loss_group_text'),  # unmatched_weight=0: the one term
    ),
    ModuleCase(
        cfg=dict(type='GroupSegmentConsistencyLoss'),
        make_inputs=lambda: (
            (
                torch.randn(2, 3, 8, requires_grad=True),
                torch.randn(2, 5, 8),
                torch.nn.functional.one_hot(torch.tensor([[0, 0, 1, 1, 1], [2, 2, 2, 0, 1]]), 3)
                .transpose(1, 2)
                .float(),
                torch.randn(4, 8),
                torch.tensor(2.0),
            ),
            {},
        ),
        check=_positive_scalar('loss_group_segment'),
    ),
    ModuleCase(
        cfg=dict(type='GroupPurityLoss'),
        make_inputs=lambda: (
            (
                torch.randn(2, 3, 5, requires_grad=True).softmax(1),
                torch.randn(2, 5, 8),
                torch.randn(4, 8),
                torch.tensor(2.0),
            ),
            {},
        ),
        check=_positive_scalar('loss_group_purity'),
    ),
    ModuleCase(
        cfg=dict(type='NounSwapMILLoss', num_swaps=2),
        make_inputs=lambda: (
            (
                torch.randn(2, 5, 8, requires_grad=True),
                torch.randn(3, 8),
                torch.randn(3, 2, 8),
                torch.tensor([[True, False], [True, True], [False, False]]),
                torch.tensor([0, 1, 1]),
                torch.tensor(2.0),
            ),
            {},
        ),
        check=_positive_scalar('loss_noun_swap'),
    ),
    ModuleCase(
        cfg=dict(type='GroupUsageLoss', loss_weight=0.5),
        make_inputs=lambda: (
            ([torch.randn(2, 8, 20, requires_grad=True).softmax(1), torch.rand(2, 2, 8)],),
            {},
        ),
        check=_check_usage,
    ),
    ModuleCase(
        cfg=dict(type='ConvStem', in_channels=3, embed_dim=16, channels=(8, 8), strides=(4, 4)),
        make_inputs=lambda: ((torch.randn(2, 3, 64, 80),), {}),
        check=_check_stem,
    ),
    ModuleCase(  # the extension is built and called through the model it extends
        cfg=dict(
            type='GroupViTPretrain',
            arch='GroupViT-test',
            num_prompts=2,
            noun_phrases=True,
            extension=dict(
                type='ScenesGroupingLosses',
                group_loss=dict(type='GroupUsageLoss'),
                token_text_loss=dict(type='GroupTextMILLoss', loss_name='loss_token_text'),
                noun_swap_loss=dict(type='NounSwapMILLoss', num_swaps=2),
            ),
        ),
        method='loss',
        make_inputs=_captions,
        check=_check_extended_pretrain,
        id='ScenesGroupingLosses',
    ),
]
