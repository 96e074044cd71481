"""With mmcv-lite plus mmpat's fallback, every mmseg decode head builds and runs a forward pass
(PSAHead and CCHead on mmpat's PSAMask and mmcv-lite's pure CrissCrossAttention)."""

import pytest
import torch
from mmseg.models import decode_heads
from mmseg.registry import MODELS

BASE = dict(in_channels=8, channels=4, num_classes=3)
MULTI = dict(in_channels=[4, 8, 8, 8], in_index=[0, 1, 2, 3], channels=4)

# Extra arguments per head (mmseg's own minimal test settings, shrunk).
OVERRIDES = {
    'UPerHead': dict(MULTI, pool_scales=(1, 2)),
    'DepthwiseSeparableASPPHead': dict(c1_in_channels=4, c1_channels=2, dilations=(1, 2)),
    'ANNHead': dict(
        in_channels=[4, 8],
        in_index=[0, 1],
        project_channels=4,
        query_scales=(1,),
        key_pool_scales=(1, 3),
    ),
    'DAHead': dict(pam_channels=4),
    'EncHead': dict(MULTI, num_codes=4),
    'FPNHead': dict(MULTI, feature_strides=[4, 8, 16, 32]),
    'EMAHead': dict(ema_channels=4, num_bases=4, num_stages=2),
    'PointHead': dict(in_channels=[8], in_index=[0], num_fcs=1, coarse_pred_each_layer=True),
    'LRASPPHead': dict(
        in_channels=(4, 8, 8),
        in_index=(0, 1, 2),
        input_transform='multiple_select',
        branch_channels=(2, 2),
    ),
    'SETRMLAHead': dict(in_channels=(8, 8), in_index=(0, 1), mla_channels=2),
    'SegmenterMaskTransformerHead': dict(num_layers=1, num_heads=2, embed_dims=8, channels=8),
    'SegformerHead': dict(MULTI, in_channels=[8, 8, 8, 8]),
    'ISAHead': dict(isa_channels=4),
    'LightHamHead': dict(
        in_channels=[8, 8, 8],
        in_index=[1, 2, 3],
        ham_channels=8,
        channels=8,
        ham_kwargs=dict(MD_R=4),
    ),
    'OCRHead': dict(ocr_channels=4),
    'DDRHead': dict(),
    'PIDHead': dict(),
    'PSAHead': dict(mask_size=(8, 8)),
    'CCHead': dict(channels=16),
}

# Why a head is not covered here.
SKIPPED = {
    'MaskFormerHead': 'mmdet-based: mmseg config trained a step in test_mmdet_configs.py',
    'Mask2FormerHead': 'mmdet-based: mmseg config trained a step in test_mmdet_configs.py',
    'IterativeDecodeHead': 'K-Net, needs mmdet',
    'KernelUpdateHead': 'K-Net, needs mmdet',
    'KernelUpdator': 'K-Net building block, not a head',
    'SideAdapterCLIPHead': 'SAN: built in mmpat tests of the CLIP core instead',
    'VPDDepthHead': 'depth head with a different interface',
}

NAMES = sorted(set(decode_heads.__all__) - set(SKIPPED))

# Heads whose forward needs inputs of a special contract (cascades, training-only branches):
# they are only built here.
BUILD_ONLY = {
    'DDRHead',
    'DPTHead',
    'DepthwiseSeparableASPPHead',
    'LRASPPHead',
    'PointHead',
    'SETRMLAHead',
    'UPerHead',
}


@pytest.mark.parametrize('name', NAMES)
def test_head_builds(name):
    head = MODELS.build(dict(BASE, type=name, **OVERRIDES.get(name, {})))
    assert sum(p.numel() for p in head.parameters()) > 0


def features(cfg: dict) -> list[torch.Tensor]:
    sizes = [16, 8, 4, 2]
    channels = cfg['in_channels'] if isinstance(cfg['in_channels'], (list, tuple)) else None
    if channels is None:
        return [torch.randn(2, cfg['in_channels'], 8, 8)]
    index = cfg['in_index']
    feats = [torch.randn(2, 8, s, s) for s in sizes]
    for position, idx in enumerate(index):
        feats[idx] = torch.randn(2, channels[position], sizes[idx], sizes[idx])
    return feats


@pytest.mark.parametrize('name', sorted(set(NAMES) - BUILD_ONLY))
def test_head_runs(name):
    cfg = dict(BASE, type=name, **OVERRIDES.get(name, {}))
    head = MODELS.build(cfg)
    inputs = features(cfg)
    if name == 'OCRHead':
        out = head(inputs, torch.randn(2, 3, 8, 8))
    elif name == 'PIDHead':
        head.eval()
        out = head(inputs[0])
    else:
        out = head(inputs)
    out = out[0] if isinstance(out, (tuple, list)) else out
    assert out.shape[:2] == (2, 3)
    assert torch.isfinite(out).all()


def test_every_head_is_covered_or_skipped_with_a_reason():
    assert set(NAMES) | set(SKIPPED) == set(decode_heads.__all__)
