"""Cases for the CLIP core: the ``CLIPPyramid`` backbone and the ``OpenCLIPTextEncoder``."""

import torch

from . import ModuleCase


def _check_vit(out) -> None:
    pyramid = [tuple(p.shape) for p in out['pyramid']]
    assert pyramid == [(2, 32, 5, 6)] * 2, f'pyramid maps {pyramid}: 2 maps [B, 32, 5, 6]'
    assert tuple(out['dense'].shape) == (2, 32, 5, 6), f'dense {tuple(out["dense"].shape)}'
    assert tuple(out['global'].shape) == (2, 32), f'global {tuple(out["global"].shape)}'


def _check_resnet(out) -> None:
    # ResNet presets: the stage outputs 1-4 (width 8 x 4 x 2^i channels, strides 4-32 of 64 px),
    # the dense attention-pool map at stride 32 and the global embedding, embed_dim 16.
    pyramid = [tuple(p.shape) for p in out['pyramid']]
    expected = [(2, 32, 16, 16), (2, 64, 8, 8), (2, 128, 4, 4), (2, 256, 2, 2)]
    assert pyramid == expected, f'stage maps {pyramid}, expected {expected}'
    assert tuple(out['dense'].shape) == (2, 16, 2, 2), f'dense {tuple(out["dense"].shape)}'
    assert tuple(out['global'].shape) == (2, 16), f'global {tuple(out["global"].shape)}'


def _check_vocab(out) -> None:
    assert tuple(out.shape) == (3, 32), f'vocabulary embeddings {tuple(out.shape)}, not [3, 32]'
    assert torch.allclose(out.norm(dim=-1), torch.ones(3), atol=1e-5), 'not L2-normalised'


CASES = [
    ModuleCase(
        cfg=dict(type='CLIPPyramid', preset='ViT-test', out_indices=(1, 2), unfreeze=('ln_post',)),
        # 40 x 48 input: not the native 32 x 32, so positional-embedding interpolation runs.
        make_inputs=lambda: ((torch.randn(2, 3, 40, 48),), {}),
        check=_check_vit,
        id='CLIPPyramid-ViT-test',
    ),
    ModuleCase(
        cfg=dict(
            type='CLIPPyramid',
            preset=dict(
                embed_dim=16,
                vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8, patch_size=None),
                text_cfg=dict(context_length=16, vocab_size=49408, width=16, heads=2, layers=1),
            ),
            frozen=False,
        ),
        make_inputs=lambda: ((torch.randn(2, 3, 64, 64),), {}),
        check=_check_resnet,
        id='CLIPPyramid-RN-tiny',
    ),
    ModuleCase(
        cfg=dict(type='OpenCLIPTextEncoder', preset='ViT-test', templates='simple', frozen=False),
        make_inputs=lambda: ((['sky', 'dog, puppy', ['cat', 'kitten']],), {}),
        method='encode_vocabulary',
        check=_check_vocab,
    ),
]
