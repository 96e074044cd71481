"""Cases for GroupViT: backbone, text encoder, zero-shot head, segmentors, losses, eval
vocabulary hook."""

from types import SimpleNamespace

import torch
from mmseg.structures import SegDataSample

from . import ModuleCase

_TEST_IMAGE = dict(
    img_size=64,
    patch_size=16,
    embed_dim=64,
    num_heads=2,
    depths=(2, 1, 1),
    num_group_tokens=(8, 2, 0),
    num_output_groups=(8, 2),
    drop_path_rate=0.1,
)


def _images():
    return (torch.randn(2, 3, 64, 80),), {}


def _check_backbone(out) -> None:
    assert out['tokens'].shape == (2, 2, 64) and out['grid'] == (4, 5)
    assert [tuple(s.shape) for s in out['soft_assigns']] == [(2, 8, 20), (2, 2, 8)]


def _check_text(out) -> None:
    # [B, width]: the end-of-text token's feature of each sequence
    assert tuple(out.shape) == (1, 32), f'text features {tuple(out.shape)}, not [1, 32]'


def _check_vocabulary(out) -> None:
    # [C, D]: one L2-normalised embedding per class (synonyms and templates folded in)
    assert tuple(out.shape) == (2, 16), f'class embeddings {tuple(out.shape)}, not [2, 16]'
    norms = out.norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5), f'norms {norms.tolist()}'


def _head_inputs():
    from mmseg.registry import MODELS

    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='GroupViT', **dict(_TEST_IMAGE, drop_path_rate=0.0)))
    images = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        feats = backbone.eval()(images)
    texts = torch.nn.functional.normalize(torch.randn(2, 32), dim=-1)  # 'cat', 'dog'
    return (dict(feats, images=images, class_embeddings=texts),), {}


def _check_head(out) -> None:
    # [B, 1 + C_text, H, W] at the crop size: channel 0 is the 0/1 threshold background
    assert tuple(out.shape) == (2, 3, 64, 80), f'logits {tuple(out.shape)}, not [2, 3, 64, 80]'
    assert set(out[:, 0].unique().tolist()) <= {0.0, 1.0}, 'background channel is not 0/1'
    fg = out[:, 1:]
    assert (fg >= 0).all() and (fg <= 1).all(), 'foreground scores are not in [0, 1]'


def _check_zero_shot(out) -> None:
    # [B, C, H, W] at the input size; channel 0 is the 0/1 background logit
    assert tuple(out.shape) == (2, 3, 64, 64), f'logits {tuple(out.shape)}, not [2, 3, 64, 64]'
    assert set(out[:, 0].unique().tolist()) <= {0.0, 1.0}, 'background channel is not 0/1'


def _check_pretrain(out) -> None:
    losses = {'loss_itc', 'loss_multi_label'}  # K = 2 prompts: the multi-label term too
    logged = {'logit_scale', 'groups_stage1', 'groups_stage2', 'groups_final'}
    assert set(out) == losses | logged, f'keys {sorted(out)}'
    for key in losses:
        assert out[key].shape == () and float(out[key]) > 0, f'{key} = {out[key]}'
        assert out[key].requires_grad, f'{key} does not require grad'


def _check_contrastive(out) -> None:
    assert set(out) == {'loss_itc', 'loss_multi_label'}, f'keys {sorted(out)}'
    for key, value in out.items():
        assert value.shape == () and float(value) > 0, f'{key} = {value}: not a positive scalar'


def _tokens():
    return (torch.tensor([[49406, 320, 2368, 49407, 0, 0]]),), {}


def _captions():
    samples = [SegDataSample(metainfo=dict(caption=c)) for c in ('a red circle', 'a blue star')]
    return (torch.randn(2, 3, 64, 64), samples), {}


def _loss_inputs():
    image = torch.randn(4, 8, requires_grad=True)
    text = torch.randn(4, 8, requires_grad=True)
    prompts = torch.randn(4, 3, 8, requires_grad=True)
    scale = torch.tensor(2.0, requires_grad=True)
    return (image, text, scale, prompts, scale), {}


_RUNNER = SimpleNamespace(
    model=None,
    val_dataloader=SimpleNamespace(
        dataset=SimpleNamespace(metainfo=dict(classes=('background', 'cat')))
    ),
)


def _hook_inputs():
    from mmseg.registry import MODELS

    from mmpat.models.groupvit import groupvit_zero_shot_cfg

    _RUNNER.model = MODELS.build(groupvit_zero_shot_cfg('GroupViT-test'))
    return (_RUNNER,), {}


def _check_hook(_) -> None:
    assert _RUNNER.model.class_names == ['background', 'cat']


def _zero_shot_cfg() -> dict:
    from mmpat.models.groupvit import groupvit_zero_shot_cfg

    return groupvit_zero_shot_cfg('GroupViT-test', class_names=['background', 'cat', 'dog'])


CASES = [
    ModuleCase(
        cfg=dict(type='GroupViT', **_TEST_IMAGE), make_inputs=_images, check=_check_backbone
    ),
    ModuleCase(
        cfg=dict(type='GroupViTTextEncoder', width=32, heads=2, layers=2),
        make_inputs=_tokens,
        check=_check_text,
    ),
    ModuleCase(
        cfg=dict(
            type='GroupViTTextEncoder',
            width=32,
            heads=2,
            layers=2,
            proj=dict(hidden_dim=32, out_dim=16),
            templates=['a photo of a {}.', 'a picture of the {}.'],
        ),
        method='encode_vocabulary',
        make_inputs=lambda: ((['cat', ['dog', 'puppy']],), {}),
        check=_check_vocabulary,
        id='GroupViTTextEncoder.encode_vocabulary',
    ),
    ModuleCase(
        cfg=dict(
            type='GroupViTZeroShotHead',
            in_channels=64,
            proj=dict(hidden_dim=64, out_dim=32),
            num_classes=3,
        ),
        make_inputs=_head_inputs,
        check=_check_head,
    ),
    ModuleCase(  # the GroupViT zero-shot segmentor: OpenVocabEncoderDecoder + the GroupViT parts
        cfg=_zero_shot_cfg(),
        method='encode_decode',
        make_inputs=lambda: ((torch.randn(2, 3, 64, 64), []), {}),
        backward=False,
        check=_check_zero_shot,
        id='OpenVocabEncoderDecoder[GroupViT]',
    ),
    ModuleCase(  # the deprecated alias building the same model
        cfg=dict(
            type='GroupViTZeroShot', arch='GroupViT-test', class_names=['background', 'cat', 'dog']
        ),
        method='encode_decode',
        make_inputs=lambda: ((torch.randn(2, 3, 64, 64), []), {}),
        backward=False,
        check=_check_zero_shot,
    ),
    ModuleCase(
        cfg=dict(type='GroupViTPretrain', arch='GroupViT-test', num_prompts=2),
        method='loss',
        make_inputs=_captions,
        check=_check_pretrain,
    ),
    ModuleCase(
        cfg=dict(type='GroupViTContrastiveLoss'),
        make_inputs=_loss_inputs,
        check=_check_contrastive,
    ),
    ModuleCase(
        cfg=dict(type='EvalVocabularyHook'),
        registry='HOOKS',
        method='before_val',
        make_inputs=_hook_inputs,
        backward=False,
        check=_check_hook,
    ),
]
