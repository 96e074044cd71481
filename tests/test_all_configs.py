"""Every config under configs/ and projects/*/configs/ parses and its model builds (weights files
set to None), and, shrunk to a tiny model, runs: a training forward/backward (configs that
train) and a prediction (all configs).

Shrinking (one table, :data:`SHRINK`, family -> function): CLIP presets -> 'ViT-test' (width 32,
embed 32, patch 8), GroupViT -> 'GroupViT-test', PAT -> ``TINY_PAT_OPTIONS``
(tests/helpers/pat_models.py), plain mmseg backbones (ResNet, MiT) -> a few channels; the heads
follow the new widths. Weights files are dropped; the open-vocabulary models get a 3-class
vocabulary. Training-free configs (no ``train_cfg`` loop: dense-CLIP, GroupViT zero-shot, the
PAT cross-dataset tests) only predict.
"""

from __future__ import annotations

import copy
import math
from functools import cache
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from helpers.groupvit_models import shrink_groupvit_model
from helpers.pat_models import TINY_PAT_OPTIONS
from mmengine.config import Config, ConfigDict
from mmengine.model import revert_sync_batchnorm
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)
CONFIGS += sorted((ROOT / 'projects').glob('*/configs/*.py'))  # mmseg's projects/ convention
IDS = [str(p.relative_to(ROOT)) for p in CONFIGS]
VOCABULARY = ['background', 'cat', 'dog']
SIZE = 64  # px of the tiny images (ViT-test: an 8 x 8 grid)
CLIP_TEST = dict(preset='ViT-test', depth=2, size=32)  # 'ViT-test': 2 blocks, 32 px
CAPTIONS = ['a red circle next to a blue square', 'a green star and a yellow circle']
TAGS = [['red circle', 'blue square'], ['green star', 'yellow circle', 'red circle']]


def drop_weights(node):
    """Set every ``pretrained`` / ``checkpoint`` file reference to None (no weights on CI)."""
    if isinstance(node, dict):
        for key in list(node):
            if key in ('pretrained', 'checkpoint') and isinstance(node[key], str):
                node[key] = None
            else:
                drop_weights(node[key])
    elif isinstance(node, list):
        for item in node:
            drop_weights(item)


@cache
def load_config(path: Path) -> Config:
    return Config.fromfile(str(path))


def model_cfg(path: Path) -> dict:
    """The config's model as a plain dict, weights files dropped."""
    model = load_config(path).model
    cfg = copy.deepcopy(model.to_dict() if hasattr(model, 'to_dict') else dict(model))
    drop_weights(cfg)
    return cfg


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_builds(path: Path):
    cfg = load_config(path)
    assert cfg.get('default_scope') == 'mmseg', 'configs use mmseg scope with mmpat imports'
    assert 'mmpat' in cfg.get('custom_imports', {}).get('imports', []), 'custom_imports lacks mmpat'
    model = MODELS.build(model_cfg(path))
    assert sum(p.numel() for p in model.parameters()) > 0


# ---------------------------------------------------------------------------------- shrinking
def _tiny_clip_tower(cfg: dict) -> None:
    """A CLIPPyramid / OpenCLIPTextEncoder config -> 'ViT-test'. The pyramid blocks keep their
    relative depth (ViT-B/16 blocks 3, 6, 9, 12 -> 1, 1, 2, 2; a ResNet preset's stages 1-4
    alike), so the number of maps and their order stay the config's."""
    if cfg['type'] == 'CLIPPyramid' and 'out_indices' in cfg:
        from mmpat.models.clip.presets import get_clip_preset

        # A timm tower (no 'layers') has the four stages of a ResNet.
        layers = get_clip_preset(cfg['preset'])['vision_cfg'].get('layers', 4)
        depth = len(layers) if isinstance(layers, (list, tuple)) else int(layers)
        scale = CLIP_TEST['depth'] / depth
        cfg['out_indices'] = tuple(math.ceil(i * scale) for i in cfg['out_indices'])
    cfg['preset'] = CLIP_TEST['preset']
    # Dilation is for timm towers only (its parity is tested in test_clip_pyramid.py);
    # ViT-test runs at its own stride.
    cfg.pop('output_stride', None)
    if cfg['type'] == 'OpenCLIPTextEncoder':
        cfg['cache_dir'] = None  # no embedding cache written by tests


def _tiny_text_encoder(cfg: dict) -> None:
    inner = cfg.get('text_encoder') if cfg['type'] == 'MultiViewPromptTextEncoder' else cfg
    _tiny_clip_tower(inner)


def _tiny_test_cfg(cfg: dict) -> None:
    """Keep the inference mode; slide windows of 48 px (stride 16: 2 x 2 crops of 64 px)."""
    test_cfg = cfg.get('test_cfg') or dict(mode='whole')
    if test_cfg.get('mode') == 'slide':
        test_cfg.update(crop_size=(48, 48), stride=(16, 16))
    cfg['test_cfg'] = test_cfg


def _tiny_preprocessor(cfg: dict, size: int = SIZE) -> None:
    if cfg.get('data_preprocessor', {}).get('size') is not None:
        cfg['data_preprocessor']['size'] = (size, size)


def shrink_clip_contrastive(cfg: dict) -> None:
    _tiny_clip_tower(cfg)
    _tiny_preprocessor(cfg, CLIP_TEST['size'])


def shrink_groupvit(cfg: dict) -> None:
    shrink_groupvit_model(cfg)  # the arch of GroupViTPretrain, the parts' sizes otherwise
    stem = (cfg.get('backbone') or {}).get('patch_embed')
    if stem is not None:  # the conv stem must stride GroupViT-test's patch size (16)
        stem.update(channels=(8, 16), strides=(4, 4))
    _tiny_preprocessor(cfg)
    _tiny_test_cfg(cfg)


def shrink_pat(cfg: dict) -> None:
    """``TINY_PAT_OPTIONS`` where the config has the part (the baseline has no tokenizer, no
    pixel branch and ``token_channels=None``: those stay off)."""
    for dotted, value in TINY_PAT_OPTIONS.items():
        *parents, key = dotted.split('.')[1:]  # without 'model.'
        node = cfg
        for name in parents:
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, dict) and not (key in node and node[key] is None and value):
            node[key] = value
    _tiny_text_encoder(cfg['text_encoder'])
    _tiny_preprocessor(cfg)
    _tiny_test_cfg(cfg)


def shrink_clip_pyramid(cfg: dict) -> None:
    """A CLIPPyramid backbone (dense-CLIP, MVP-SEG, the FCN reuse config): heads that read the
    pyramid maps get ViT-test's width (32) and a narrow hidden width."""
    _tiny_clip_tower(cfg['backbone'])
    if cfg.get('text_encoder'):
        _tiny_text_encoder(cfg['text_encoder'])
    head = cfg['decode_head']
    if 'in_channels' in head:
        head['in_channels'] = 32
    if 'embed_dims' in head:  # a text classifier head: ViT-test's text width
        head['embed_dims'] = 32
    if 'channels' in head:
        head['channels'] = 16
    if head.get('num_classes') is not None:  # a closed-vocabulary head
        head['num_classes'] = len(VOCABULARY)
    _tiny_preprocessor(cfg)
    _tiny_test_cfg(cfg)


def _resnet_widths(depth: int, base: int) -> list[int]:
    expansion = 4 if depth >= 50 else 1
    return [base * expansion * 2**i for i in range(4)]


def shrink_plain_backbone(cfg: dict) -> None:
    """An mmseg backbone (ResNetV1c: MVP-SEG+; MixVisionTransformer: reuse) under a text
    classifier head: ResNet-18 at base width 8 / MiT with 8-wide stages; the head's input
    widths follow by stage, its text width is ViT-test's (32)."""
    backbone, head = cfg['backbone'], cfg['decode_head']
    if backbone['type'] == 'ResNetV1c':
        old = _resnet_widths(backbone['depth'], backbone.get('base_channels', 64))
        backbone.update(depth=18, stem_channels=16, base_channels=8, init_cfg=None)
        new = _resnet_widths(18, 8)
    elif backbone['type'] == 'MixVisionTransformer':
        heads = backbone['num_heads']
        old = [backbone['embed_dims'] * h for h in heads]
        backbone['embed_dims'] = 8
        new = [8 * h for h in heads]
    else:
        raise NotImplementedError(f'no tiny setting for the backbone {backbone["type"]}')
    for key in ('in_channels', 'c1_in_channels'):
        if key in head:
            head[key] = new[old.index(head[key])]
    if 'channels' in head:
        head['channels'] = 16
    if 'c1_channels' in head:
        head['c1_channels'] = 8
    head['embed_dims'] = 32
    _tiny_text_encoder(cfg['text_encoder'])
    _tiny_preprocessor(cfg)
    _tiny_test_cfg(cfg)


def family(cfg: dict) -> str:
    """The shrinking family of a model config."""
    if cfg['type'] == 'CLIPContrastive':
        return 'clip-pretrain'
    if cfg['type'].startswith('GroupViT') or cfg.get('backbone', {}).get('type') == 'GroupViT':
        return 'groupvit'
    if cfg.get('decode_head', {}).get('type') == 'SemanticFusionHead':
        return 'pat'
    if cfg.get('backbone', {}).get('type') == 'CLIPPyramid':
        return 'clip-pyramid'
    return 'plain-backbone'


SHRINK: dict[str, Callable[[dict], None]] = {
    'clip-pretrain': shrink_clip_contrastive,
    'groupvit': shrink_groupvit,
    'pat': shrink_pat,
    'clip-pyramid': shrink_clip_pyramid,
    'plain-backbone': shrink_plain_backbone,
}


def tiny_model(path: Path):
    """The config's model shrunk by its family, built (SyncBN -> BN, as the runner does
    without distribution), with the 3-class vocabulary when it is open-vocabulary."""
    cfg = model_cfg(path)
    SHRINK[family(cfg)](cfg)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(ConfigDict(cfg)))
    model.init_weights()
    if hasattr(model, 'set_vocabulary'):
        model.set_vocabulary(VOCABULARY)
    return model


# ------------------------------------------------------------------------------------- data
def _batch(count: int, size: int = SIZE) -> dict:
    """A dataloader batch: uint8 images, label maps of the 3 classes (some ignored pixels) and
    a caption and tags per sample (the caption- and tag-trained models)."""
    generator = torch.Generator().manual_seed(count)
    inputs, samples = [], []
    for i in range(count):
        inputs.append(torch.randint(0, 256, (3, size, size), generator=generator).byte())
        labels = torch.randint(0, len(VOCABULARY), (1, size, size), generator=generator)
        labels[:, :4] = 255
        sample = SegDataSample(gt_sem_seg=PixelData(data=labels))
        sample.set_metainfo(
            dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                caption=CAPTIONS[i % len(CAPTIONS)],
                captions=CAPTIONS,
                tags=TAGS[i % len(TAGS)],
                tag_weights=[float(k + 1) for k in range(len(TAGS[i % len(TAGS)]))],
            )
        )
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _trainable(module: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in module.named_parameters() if p.requires_grad}


# ------------------------------------------------------------------ per-config extra checks
def _check_mvp_seg(path: Path, model) -> None:
    """MVP-SEG trains only its prompts and temperatures (the head); MVP-SEG+ a student under
    the frozen multi-view prompts. CLIP stays frozen in both."""
    assert not _trainable(model.text_encoder), 'the CLIP text encoder must stay frozen'
    if model.decode_head.__class__.__name__ == 'MultiPromptHead':
        parts = {name.split('.')[0] for name in _trainable(model)}
        assert parts == {'decode_head'}, f'MVP-SEG trains {parts}, not only the prompts'
    else:
        assert _trainable(model.backbone) and _trainable(model.decode_head)


EXTRA_CHECKS: dict[str, Callable[[Path, Any], None]] = {'mvp_seg': _check_mvp_seg}


def _trains(path: Path) -> bool:
    return load_config(path).get('train_cfg') is not None


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_runs_tiny(path: Path):
    model = tiny_model(path)
    size = CLIP_TEST['size'] if family(model_cfg(path)) == 'clip-pretrain' else SIZE
    if _trains(path):
        assert load_config(path).get('train_dataloader'), 'a training config without data'
        model.train()
        data = model.data_preprocessor(_batch(2, size), training=True)
        losses = model.loss(data['inputs'], data['data_samples'])
        assert any('loss' in key for key in losses), f'no loss term in {sorted(losses)}'
        total, _ = model.parse_losses(losses)
        assert torch.isfinite(total), losses
        total.backward()
        grads = [p.grad for p in _trainable(model).values() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), 'no (finite) gradient'
        assert any(g.abs().sum() > 0 for g in grads), 'every gradient is zero'
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(_batch(1, size), training=False)
        (out,) = model.predict(data['inputs'], data['data_samples'])
    if family(model_cfg(path)) == 'clip-pretrain':
        assert out.image_embed.shape == out.text_embed.shape == (32,)
        assert out.itc_scores.shape == (1,) and torch.isfinite(out.itc_scores).all()
    else:
        assert out.pred_sem_seg.data.shape == (1, size, size)
        assert out.seg_logits.data.shape == (len(VOCABULARY), size, size)
        assert torch.isfinite(out.seg_logits.data).all()
        assert 0 <= int(out.pred_sem_seg.data.min()) <= int(out.pred_sem_seg.data.max()) < 3
    check = EXTRA_CHECKS.get(path.parent.name)
    if check is not None:
        check(path, model)
