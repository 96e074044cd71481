"""Cases for MVP-SEG and MVP-SEG+: MultiPromptHead, its three losses, the multi-view prompt
text encoder, the text-classifier DeepLab heads and PseudoLabelHook."""

import tempfile
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from helpers.mvp_seg_models import CLASSES, UNSEEN, data_batch, write_teacher
from mmengine.logging import MessageHub, MMLogger
from mmseg.registry import MODELS

from . import ModuleCase

_TEACHER_DIR = Path(tempfile.mkdtemp(prefix='mmpat-mvp-seg-teacher-'))
_BATCH: dict = {}


def _prompt_inputs():
    # what OpenVocabEncoderDecoder gives a head: the dense map and the prompt encoder
    encoder = MODELS.build(dict(type='OpenCLIPTextEncoder', preset='ViT-test'))

    def encode(contexts):
        return encoder.encode_with_prompts(torch.cat(list(contexts)), ['cat', 'dog', 'sky'])

    return (dict(dense=torch.randn(2, 32, 4, 5), encode_prompts=encode),), {}


def _check_prompt_head(out) -> None:
    assert tuple(out.shape) == (2, 3, 4, 5)
    assert (out <= 1e-6).all()  # log of probabilities scaled by the GPR scores


def _check_positive_scalar(out) -> None:
    assert out.shape == () and float(out) > 0


def _check_unit_embeddings(out) -> None:
    assert out.shape == (2, 32)
    assert torch.allclose(out.norm(dim=-1), torch.ones(2), atol=1e-5)


def _check_logits(out) -> None:
    assert tuple(out.shape) == (2, 3, 8, 8)


def _aspp_inputs():
    maps = tuple(torch.randn(2, c, 8, 8) for c in (8, 16))
    embeddings = F.normalize(torch.randn(3, 12), dim=1)
    return (dict(features=maps, class_embeddings=embeddings),), {}


def _student_runner():
    student = MODELS.build(
        dict(
            type='OpenVocabEncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[0] * 3, std=[1] * 3),
            backbone=dict(type='CLIPPyramid', preset='ViT-test', out_indices=(2,)),
            text_encoder=dict(type='OpenCLIPTextEncoder', preset='ViT-test'),
            decode_head=dict(type='DenseCLIPHead'),
            class_names=CLASSES,
        )
    )
    dataset = SimpleNamespace(metainfo=dict(unseen_classes=UNSEEN))
    return SimpleNamespace(
        model=student,
        iter=0,
        train_dataloader=SimpleNamespace(dataset=dataset),
        logger=MMLogger.get_instance('mvp_seg_cases'),
        message_hub=MessageHub.get_instance('mvp_seg_cases'),
    )


def _hook_inputs():
    _BATCH['batch'] = data_batch(ignored=1.0)
    return (_student_runner(), 0, _BATCH['batch']), {}


def _check_hook(out) -> None:
    labels = torch.cat([s.gt_sem_seg.data for s in _BATCH['batch']['data_samples']])
    assert set(labels.unique().tolist()) <= {255, CLASSES.index('dog')}


def _hook_cfg() -> dict:
    config, checkpoint = write_teacher(_TEACHER_DIR)
    return dict(
        type='PseudoLabelHook', teacher_config=config, teacher_checkpoint=checkpoint, switch_iter=1
    )


CASES = [
    ModuleCase(
        cfg=dict(type='MultiPromptHead', num_prompts=2, n_ctx=3, context_width=32),
        make_inputs=_prompt_inputs,
        check=_check_prompt_head,
    ),
    ModuleCase(
        cfg=dict(type='OCLoss'),
        make_inputs=lambda: ((torch.randn(3, 4, 8, requires_grad=True),), {}),
        check=_check_positive_scalar,
    ),
    ModuleCase(
        cfg=dict(type='FusedMaskNLLLoss'),
        make_inputs=lambda: (
            (
                torch.randn(2, 3, 4, 4).log_softmax(1).requires_grad_(),
                torch.randint(0, 3, (2, 4, 4)),
            ),
            {},
        ),
        check=_check_positive_scalar,
    ),
    ModuleCase(
        cfg=dict(type='PresenceBCELoss'),
        make_inputs=lambda: (
            (torch.randn(2, 3, requires_grad=True), torch.randint(0, 3, (2, 4, 4))),
            {},
        ),
        check=_check_positive_scalar,
    ),
    ModuleCase(
        cfg=dict(
            type='MultiViewPromptTextEncoder',
            text_encoder=dict(type='OpenCLIPTextEncoder', preset='ViT-test'),
            n_ctx=4,
        ),
        method='encode_vocabulary',
        make_inputs=lambda: ((['cat', 'dog, puppy'],), {}),
        backward=False,
        check=_check_unit_embeddings,
    ),
    ModuleCase(
        cfg=dict(
            type='TextClassifierASPPHead',
            in_channels=16,
            in_index=1,
            channels=8,
            dilations=(1, 2),
            embed_dims=12,
        ),
        make_inputs=_aspp_inputs,
        check=_check_logits,
    ),
    ModuleCase(
        cfg=dict(
            type='TextClassifierSepASPPHead',
            in_channels=16,
            in_index=1,
            channels=8,
            c1_in_channels=8,
            c1_channels=4,
            dilations=(1, 2),
            embed_dims=12,
        ),
        make_inputs=_aspp_inputs,
        check=_check_logits,
    ),
    ModuleCase(
        cfg=_hook_cfg(),
        registry='HOOKS',
        method='before_train_iter',
        make_inputs=_hook_inputs,
        backward=False,
        check=_check_hook,
    ),
]
