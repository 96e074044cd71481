"""Every MVP-SEG / MVP-SEG+ config builds with its weights files dropped and the random
'ViT-test' CLIP, and runs a training forward/backward and a prediction on tiny images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from test_all_configs import drop_weights

import mmpat  # noqa: F401

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = sorted((ROOT / 'configs/mvp_seg').glob('*.py'))
init_default_scope('mmseg')


def tiny_model_cfg(path: Path) -> dict:
    cfg = Config.fromfile(str(path)).model.to_dict()
    drop_weights(cfg)
    cfg['data_preprocessor']['size'] = (64, 64)
    cfg['test_cfg'] = dict(mode='whole')
    if cfg['backbone']['type'] == 'CLIPPyramid':
        cfg['backbone'].update(preset='ViT-test', out_indices=(2,))
    text = cfg['text_encoder']
    (text.get('text_encoder') or text)['preset'] = 'ViT-test'
    if 'embed_dims' in cfg['decode_head']:  # a text-classifier student head
        cfg['decode_head']['embed_dims'] = 32
    return cfg


def _samples(count: int = 2) -> list:
    samples = []
    for _ in range(count):
        sample = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 3, (1, 64, 64))))
        sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        samples.append(sample)
    return samples


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_trains_and_predicts_tiny(path: Path):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(path))
    model.set_vocabulary(['background', 'cat', 'dog'])
    losses = model.loss(torch.randn(2, 3, 64, 64), _samples())
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert not any(p.requires_grad for p in model.text_encoder.parameters())  # CLIP stays frozen
    model.eval()
    with torch.no_grad():
        (out,) = model.predict(torch.randn(1, 3, 64, 64), _samples(1))
    assert out.pred_sem_seg.data.shape == (1, 64, 64)
