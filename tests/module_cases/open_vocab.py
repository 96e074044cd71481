"""Cases for the open-vocabulary core written with the segmentor (head, hook)."""

from types import SimpleNamespace

import torch

from . import ModuleCase


class _VocabularyRecorder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.class_names: list = []

    def set_vocabulary(self, names, palette=None) -> None:
        self.class_names = list(names)


_RECORDER = _VocabularyRecorder()


def _runner():
    dataset = SimpleNamespace(metainfo=dict(classes=('sky', 'tree'), palette=[[0, 0, 0]] * 2))
    return SimpleNamespace(model=_RECORDER, test_dataloader=SimpleNamespace(dataset=dataset))


def _dense_inputs():
    inputs = dict(
        dense=torch.randn(2, 8, 4, 4, requires_grad=True),
        class_embeddings=torch.nn.functional.normalize(torch.randn(3, 8), dim=1),
        pyramid=(torch.randn(2, 6, 4, 4),),
    )
    return (inputs,), {}


def _check_logits(output) -> None:
    # _forward: the head's logits [B, C, h, w] on the 4 x 4 token grid (32 px, patch 8)
    assert tuple(output.shape) == (2, 3, 4, 4), f'logits {tuple(output.shape)}, not [2, 3, 4, 4]'


def _check_dense(output) -> None:
    assert tuple(output.shape) == (2, 3, 4, 4), f'logits {tuple(output.shape)}, not [2, 3, 4, 4]'


def _check_hook(_) -> None:
    names = _RECORDER.class_names
    assert names == ['sky', 'tree'], f'the hook set {names}, not the test dataset classes'


CASES = [
    ModuleCase(
        cfg=dict(
            type='OpenVocabEncoderDecoder',
            backbone=dict(type='CLIPPyramid', preset='ViT-test', out_indices=(1, 2)),
            text_encoder=dict(type='OpenCLIPTextEncoder', preset='ViT-test', templates='simple'),
            decode_head=dict(type='DenseCLIPHead', learnable_scale=True),
            class_names=['cat', 'dog, puppy', 'sky'],
        ),
        method='_forward',
        make_inputs=lambda: ((torch.randn(2, 3, 32, 32),), {}),
        check=_check_logits,
    ),
    ModuleCase(
        cfg=dict(type='DenseCLIPHead', num_classes=3, key_smoothing=True, denoise_threshold=0.1),
        make_inputs=_dense_inputs,
        check=_check_dense,
    ),
    ModuleCase(
        cfg=dict(type='VocabularyHook'),
        registry='HOOKS',
        method='before_test',
        make_inputs=lambda: ((_runner(),), {}),
        backward=False,
        check=_check_hook,
    ),
]
