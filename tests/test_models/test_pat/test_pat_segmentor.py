"""PAT end to end in OpenVocabEncoderDecoder (tiny CLIP, tokenizer, both heads) and its
baseline: losses and logged statistics, gradients, whole / slide prediction, learning."""

from __future__ import annotations

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

SIZE = 32  # ViT-test: 8 px patches, a 4 x 4 grid
CLASSES = ['background', 'cat', 'dog']


def build(pat: bool = True, mode: str = 'whole'):
    torch.manual_seed(0)
    cfg = dict(
        type='OpenVocabEncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[122.7, 116.7, 104.1], std=[68.5, 66.6, 70.3]
        ),
        backbone=dict(type='CLIPPyramid', preset='ViT-test', out_indices=(1, 2)),
        text_encoder=dict(type='OpenCLIPTextEncoder', preset='ViT-test', templates='simple'),
        decode_head=dict(
            type='SemanticFusionHead',
            pyramid_channels=[32, 32],
            embed_dims=32,
            channels=16,
            rescales=(2, 1),
            token_channels=16 if pat else None,
        ),
        class_names=CLASSES,
        test_cfg=dict(mode=mode, crop_size=(SIZE, SIZE), stride=(16, 16)),
    )
    if pat:
        cfg['neck'] = dict(
            type='PyramidTokenizer',
            in_channels=[32, 32],
            codebook_sizes=[16, 8],
            code_dim=8,
            rescales=(2, 1),
            decoder=dict(type='TopDownFPN', channels=16),
        )
        cfg['auxiliary_head'] = dict(type='PixelReconHead', in_channels=16, channels=16)
    return MODELS.build(cfg)


def images(size=(SIZE, SIZE)):
    """Smooth, structured normalised images (learnable by the pixel branch)."""
    ys, xs = torch.meshgrid(
        torch.linspace(-1, 1, size[0]), torch.linspace(-1, 1, size[1]), indexing='ij'
    )
    return torch.stack(
        [torch.stack([xs, ys, xs * ys]), torch.stack([-ys, xs, (xs > 0).float() * 2 - 1])]
    )


def samples(size=(SIZE, SIZE)):
    g = torch.Generator().manual_seed(0)
    meta = dict(img_shape=size, ori_shape=size, pad_shape=size, padding_size=[0, 0, 0, 0])
    return [
        SegDataSample(
            gt_sem_seg=PixelData(data=torch.randint(0, 3, (1, *size), generator=g)), metainfo=meta
        )
        for _ in range(2)
    ]


def total(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


def test_loss_returns_the_losses_and_statistics_and_trains_the_right_parts():
    model = build().train()
    losses = model.loss(images(), samples())
    expected = {'decode.loss_ce', 'decode.acc_seg', 'aux.loss_recon', 'loss_vq'}
    expected |= {f'{k}_l{i}' for k in ('perplexity', 'dead_codes') for i in range(2)}
    assert set(losses) == expected
    assert all(torch.isfinite(v).all() for v in losses.values())
    # the statistics are logged, not summed into the total loss
    loss, log_vars = model.parse_losses(losses)
    parts = losses['decode.loss_ce'] + losses['aux.loss_recon'] + losses['loss_vq']
    assert torch.allclose(loss, parts)
    assert log_vars['perplexity_l0'] == pytest.approx(float(losses['perplexity_l0']))
    assert 1.0 <= float(losses['perplexity_l1']) <= 8.0
    loss.backward()
    for part in (model.neck, model.decode_head, model.auxiliary_head):
        trainable = [(n, p) for n, p in part.named_parameters() if p.requires_grad]
        assert trainable
        missing = [n for n, p in trainable if p.grad is None]
        assert not missing, f'{type(part).__name__} parameters without a gradient: {missing}'
    assert model.neck.projections[0].weight.grad.abs().sum() > 0
    for part in (model.backbone, model.text_encoder):
        assert not any(p.requires_grad for p in part.parameters())
        assert all(p.grad is None for p in part.parameters())


@pytest.mark.parametrize('mode', ['whole', 'slide'])
@pytest.mark.parametrize('pat', [True, False])
def test_predict_shapes(mode, pat):
    model = build(pat=pat, mode=mode).eval()
    size = (40, 56)  # not square, not a multiple of the slide stride
    quantizers = list(model.neck.quantizers) if pat else []
    codebooks = [q.codebook.clone() for q in quantizers]
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, *size), samples(size)[:1])
    assert out[0].seg_logits.data.shape == (3, *size)
    assert out[0].pred_sem_seg.data.shape == (1, *size)
    assert int(out[0].pred_sem_seg.data.max()) < 3
    # inference does not touch the codebooks
    assert all(torch.equal(c, q.codebook) for c, q in zip(codebooks, quantizers))


def test_baseline_trains_without_tokens():
    model = build(pat=False).train()
    assert not model.with_neck and not model.with_auxiliary_head
    losses = model.loss(images(), samples())
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg'}
    total(losses).backward()
    assert model.decode_head.embed.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.backbone.parameters())


def test_a_few_steps_lower_the_reconstruction_loss():
    model = build().train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=5e-3)
    inputs, data = images(), samples()
    recon = []
    for _ in range(15):
        losses = model.loss(inputs, data)
        recon.append(float(losses['aux.loss_recon'].detach()))
        optimizer.zero_grad()
        total(losses).backward()
        optimizer.step()
    # the discrete tokens make single steps noisy: compare the last steps with the first
    assert sum(recon[-3:]) / 3 < 0.9 * recon[0], recon
