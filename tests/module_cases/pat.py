"""Cases for PAT: the PyramidTokenizer neck, its TopDownFPN decoder, the PixelReconHead and the
SemanticFusionHead."""

import torch
import torch.nn.functional as F

from . import ModuleCase

_PYRAMID = (6, 10)


def _pyramid(grid=(4, 5)):
    return tuple(torch.randn(2, c, *grid) for c in _PYRAMID)


def _check_tokenizer(out) -> None:
    assert [tuple(q.shape) for q in out['quantized']] == [(2, 8, 8, 10), (2, 8, 4, 5)]
    assert [tuple(i.shape) for i in out['indices']] == [(2, 8, 10), (2, 4, 5)]
    assert out['loss_vq'].shape == () and len(out['perplexity']) == len(out['dead_codes']) == 2
    assert tuple(out['token_features'].shape) == (2, 12, 8, 10)


def _check_fpn(out) -> None:
    assert tuple(out.shape) == (2, 7, 8, 10)


def _fusion_inputs():
    inputs = dict(
        pyramid=_pyramid(),
        dense=torch.randn(2, 16, 4, 5),
        token_features=torch.randn(2, 12, 8, 10, requires_grad=True),
        class_embeddings=F.normalize(torch.randn(3, 16), dim=1),
    )
    return (inputs,), {}


def _check_fusion(out) -> None:
    assert tuple(out.shape) == (2, 3, 8, 10)


def _recon_inputs():
    # the image is twice the reconstruction's size: the target is resized
    inputs = dict(token_features=torch.randn(2, 12, 4, 5), images=torch.randn(2, 3, 32, 40))
    return (inputs, [], None), {}


def _check_recon(out) -> None:
    assert set(out) == {'loss_recon'} and out['loss_recon'].shape == ()


CASES = [
    ModuleCase(
        cfg=dict(
            type='PyramidTokenizer',
            in_channels=list(_PYRAMID),
            codebook_sizes=[16, 8],
            code_dim=8,
            rescales=(2, 1),
            restart_after=1,
            decoder=dict(type='TopDownFPN', channels=12),
        ),
        make_inputs=lambda: ((dict(pyramid=_pyramid()),), {}),
        check=_check_tokenizer,
    ),
    ModuleCase(
        cfg=dict(type='TopDownFPN', in_channels=[8, 6], num_levels=2, channels=7),
        make_inputs=lambda: (([torch.randn(2, 8, 8, 10), torch.randn(2, 6, 4, 5)],), {}),
        check=_check_fpn,
    ),
    ModuleCase(
        cfg=dict(
            type='SemanticFusionHead',
            pyramid_channels=list(_PYRAMID),
            embed_dims=16,
            channels=8,
            rescales=(2, 1),
            token_channels=12,
            num_classes=3,
        ),
        make_inputs=_fusion_inputs,
        check=_check_fusion,
    ),
    ModuleCase(
        cfg=dict(type='PixelReconHead', in_channels=12, channels=16, num_upsample=2),
        method='loss',
        make_inputs=_recon_inputs,
        check=_check_recon,
    ),
]
