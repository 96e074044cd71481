"""Every configs/pat/*.py model, with the tiny 'ViT-test' CLIP swapped in (no weights file):
builds, trains one step (loss + backward reach the trainable parts only) and predicts in the
config's own test mode (whole or slide)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / 'configs' / 'pat').glob('*.py'))
SIZE = (64, 64)
CLASSES = ['wall', 'floor', 'tree']
TINY = 32  # ViT-test: width 32, embed_dim 32, 2 blocks, patch 8


def tiny_model_cfg(path: Path) -> dict:
    """The config's model with ViT-test in place of its CLIP and no weights file."""
    model = Config.fromfile(str(path)).model.to_dict()
    levels = len(model['backbone']['out_indices'])
    assert levels == 4
    model['data_preprocessor']['size'] = SIZE
    model['backbone'].update(preset='ViT-test', pretrained=None, out_indices=(1, 2, 2, 2))
    model['text_encoder'].update(preset='ViT-test', pretrained=None, cache_dir=None)
    if model.get('neck') is not None:
        model['neck']['in_channels'] = [TINY] * levels
    model['decode_head'].update(pyramid_channels=[TINY] * levels, embed_dims=TINY)
    if model['test_cfg'].get('mode') == 'slide':
        model['test_cfg'].update(crop_size=(32, 32), stride=(16, 16))
    model['class_names'] = CLASSES
    return model


def batch(num: int = 2) -> dict:
    generator = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(num):
        inputs.append(torch.randint(0, 256, (3, *SIZE), generator=generator, dtype=torch.uint8))
        label = torch.randint(0, len(CLASSES), (1, *SIZE), generator=generator)
        label[:, :4] = 255  # some ignored pixels
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=SIZE, ori_shape=SIZE))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_pat_config_trains_and_predicts_with_a_tiny_clip(path: Path):
    torch.manual_seed(0)
    cfg = tiny_model_cfg(path)
    model = MODELS.build(cfg)
    model.train()
    data = model.data_preprocessor(batch(), training=True)
    assert data['inputs'].shape == (2, 3, *SIZE)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert 'decode.loss_ce' in losses
    has_tokenizer = cfg.get('neck') is not None
    if has_tokenizer:
        for key in ('aux.loss_recon', 'loss_vq', 'perplexity_l0'):
            assert key in losses, key
    else:
        assert cfg.get('auxiliary_head') is None
        assert not any(k.startswith('aux.') or 'vq' in k for k in losses)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert grads and all(not n.startswith(('backbone.', 'text_encoder.')) for n in grads)
    assert all(g is None or torch.isfinite(g).all() for g in grads.values())
    reached = {n.split('.')[0] for n, g in grads.items() if g is not None and g.abs().sum() > 0}
    assert reached == (
        {'decode_head', 'neck', 'auxiliary_head'} if has_tokenizer else {'decode_head'}
    )

    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(batch(1), training=False)
        results = model.predict(data['inputs'], data['data_samples'])
    pred = results[0].pred_sem_seg.data
    assert pred.shape == (1, *SIZE)
    assert 0 <= int(pred.min()) and int(pred.max()) < len(CLASSES)
    assert results[0].seg_logits.data.shape == (len(CLASSES), *SIZE)
