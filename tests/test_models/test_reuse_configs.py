"""Reuse of mmpat parts in plain mmseg models (issue 19).

The configs/reuse configs build with their weights files dropped and tiny settings (the random
'ViT-test' CLIP, a narrow MiT / FCN) and run a training forward/backward and a prediction on
64 px images; plus ``CLIPPyramid(out_format='tuple')``, ``DenseCLIPHead``'s projection from
tuple features and the errors of both heads under the wrong segmentor.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.model import revert_sync_batchnorm
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from test_all_configs import drop_weights

from mmpat.models.backbones import CLIPPyramid
from mmpat.models.decode_heads import DenseCLIPHead, TextClassifierASPPHead

ROOT = Path(__file__).resolve().parents[2]
FCN = ROOT / 'configs/reuse/fcn_clip-pyramid-vit-b16_ade20k-150.py'
DENSE_MIT = ROOT / 'configs/reuse/dense-clip-head_mit-b0_ade20k-150.py'
TINY_RN = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8, patch_size=None),
    text_cfg=dict(context_length=16, vocab_size=49408, width=16, heads=2, layers=1),
)
MIT_DIMS = 8  # MiT stage widths 8 x num_heads (1, 2, 5, 8): 8, 16, 40, 64


def _samples(count: int, classes: int) -> list:
    samples = []
    for _ in range(count):
        labels = torch.randint(0, classes, (1, 64, 64))
        labels[:, :4] = 255  # some ignored pixels
        sample = SegDataSample(gt_sem_seg=PixelData(data=labels))
        sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        samples.append(sample)
    return samples


def _tiny_cfg(path: Path) -> dict:
    cfg = Config.fromfile(str(path)).model.to_dict()
    drop_weights(cfg)
    cfg['data_preprocessor']['size'] = (64, 64)
    return cfg


def _train_and_predict(model, classes: int):
    torch.manual_seed(0)
    losses = model.loss(torch.randn(2, 3, 64, 64), _samples(2, classes))
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    model.eval()
    with torch.no_grad():
        (out,) = model.predict(torch.randn(1, 3, 64, 64), _samples(1, classes))
    assert out.pred_sem_seg.data.shape == (1, 64, 64)
    assert out.seg_logits.data.shape == (classes, 64, 64)
    assert int(out.pred_sem_seg.data.max()) < classes
    return out


def _has_grad(module: torch.nn.Module) -> bool:
    grads = [p.grad for p in module.parameters() if p.requires_grad]
    return (
        bool(grads) and all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
    )


# ------------------------------------------------------------------------------------ configs
def test_fcn_on_clip_pyramid_config_trains_and_predicts_tiny():
    cfg = _tiny_cfg(FCN)
    assert cfg['type'] == 'EncoderDecoder' and cfg['backbone']['out_format'] == 'tuple'
    cfg['backbone'].update(preset='ViT-test', out_indices=(1, 2))
    cfg['decode_head'].update(in_channels=32, in_index=1, channels=16, num_classes=5)
    cfg['test_cfg'] = dict(mode='slide', crop_size=(32, 32), stride=(24, 24))
    # ConfigDict as the runner gives (mmseg reads test_cfg.mode); SyncBN -> BN as without DDP.
    model = revert_sync_batchnorm(MODELS.build(ConfigDict(cfg)))
    assert model.decode_head.in_channels == model.backbone.out_channels[1]
    _train_and_predict(model, classes=5)
    assert _has_grad(model.decode_head)
    assert not any(p.requires_grad for p in model.backbone.parameters())  # CLIP stays frozen


def test_dense_clip_head_on_mit_config_trains_and_predicts_tiny():
    cfg = _tiny_cfg(DENSE_MIT)
    assert cfg['type'] == 'OpenVocabEncoderDecoder'
    assert cfg['backbone']['type'] == 'MixVisionTransformer'
    head = cfg['decode_head']
    assert (head['embed_dims'], head['in_index'], head['in_channels']) == (512, 3, 256)
    cfg['backbone']['embed_dims'] = MIT_DIMS
    cfg['text_encoder'].update(preset='ViT-test', cache_dir=None)
    head.update(in_channels=MIT_DIMS * 8, embed_dims=32)
    model = MODELS.build(cfg)
    model.init_weights()
    model.set_vocabulary(['background', 'cat', 'dog'])
    _train_and_predict(model, classes=3)
    assert _has_grad(model.backbone)  # the MiT trains
    assert _has_grad(model.decode_head.proj)
    assert model.decode_head.log_logit_scale.grad is not None
    assert not any(p.requires_grad for p in model.text_encoder.parameters())


def test_reuse_configs_keep_the_full_size_widths():
    fcn = Config.fromfile(str(FCN)).model.to_dict()
    drop_weights(fcn)
    backbone = MODELS.build(fcn['backbone'])  # ViT-B/16, random weights
    head = fcn['decode_head']
    assert head['in_channels'] == backbone.out_channels[head['in_index']] == 768
    mit = Config.fromfile(str(DENSE_MIT)).model
    stage4 = mit.backbone.embed_dims * mit.backbone.num_heads[mit.decode_head.in_index]
    assert mit.decode_head.in_channels == stage4 == 256


# --------------------------------------------------------------------------- CLIPPyramid tuple
@pytest.mark.parametrize(
    'preset,out_indices',
    [('ViT-test', (0, 1, 2)), ('ViT-test', (1,)), ('ViT-test', (2,)), (TINY_RN, (1, 3))],
    ids=['vit-all', 'vit-early', 'vit-last', 'resnet'],
)
def test_tuple_output_is_the_dict_pyramid(preset, out_indices):
    torch.manual_seed(0)
    as_dict = CLIPPyramid(preset=preset, out_indices=out_indices).eval()
    as_tuple = CLIPPyramid(preset=preset, out_indices=out_indices, out_format='tuple').eval()
    as_tuple.load_state_dict(as_dict.state_dict())
    x = torch.randn(2, 3, 48, 64)
    with torch.no_grad():
        pyramid = as_dict(x)['pyramid']
        maps = as_tuple(x)
    assert isinstance(maps, tuple) and len(maps) == len(out_indices)
    for got, expected, channels in zip(maps, pyramid, as_tuple.out_channels):
        assert got.shape[:2] == (2, channels)
        assert torch.equal(got, expected)


def test_tuple_output_under_open_vocab_segmentor_and_bad_format():
    model = MODELS.build(
        dict(
            type='OpenVocabEncoderDecoder',
            backbone=dict(type='CLIPPyramid', preset='ViT-test', out_format='tuple'),
            text_encoder=dict(type='OpenCLIPTextEncoder', preset='ViT-test', templates='simple'),
            decode_head=dict(type='DenseCLIPHead', in_channels=32, embed_dims=32),
            class_names=['cat', 'dog', 'sky'],
        )
    )
    assert model._forward(torch.randn(1, 3, 32, 32)).shape == (1, 3, 4, 4)
    with pytest.raises(ValueError, match="out_format must be 'dict'.*'tuple'.*got 'list'"):
        CLIPPyramid(preset='ViT-test', out_format='list')


# ------------------------------------------------------------------- DenseCLIPHead projection
def _feature_inputs(width: int = 6, text_dim: int = 8, classes: int = 4) -> dict:
    torch.manual_seed(0)
    features = (torch.randn(2, 3, 10, 12), torch.randn(2, width, 5, 6, requires_grad=True))
    texts = F.normalize(torch.randn(classes, text_dim), dim=1)
    return dict(features=features, class_embeddings=texts)


def test_projection_of_tuple_features_is_a_cosine_in_text_space():
    inputs = _feature_inputs()
    head = DenseCLIPHead(in_channels=6, in_index=1, embed_dims=8, logit_scale=20.0, num_classes=4)
    head.init_weights()
    assert 0.002 < head.proj.weight.std() < 0.03  # N(0, 0.01), like mmseg's conv_seg
    logits = head(inputs)
    assert logits.shape == (2, 4, 5, 6)
    feat = inputs['features'][1]
    pixels = torch.einsum('oc,bchw->bohw', head.proj.weight[:, :, 0, 0], feat)
    pixels = pixels + head.proj.bias[None, :, None, None]
    expected = 20.0 * torch.einsum(
        'bdhw,cd->bchw', F.normalize(pixels, dim=1), inputs['class_embeddings']
    )
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
    logits.sum().backward()
    assert head.proj.weight.grad is not None and head.proj.weight.grad.abs().sum() > 0
    assert feat.grad is not None  # a trainable backbone gets gradients through the head
    assert not head.log_logit_scale.requires_grad  # fixed scale unless learnable_scale
    assert math.isclose(head.log_logit_scale.exp().item(), 20.0, rel_tol=1e-6)


def test_tuple_features_of_the_text_width_need_no_projection():
    inputs = _feature_inputs(width=8)
    head = DenseCLIPHead(in_index=1, num_classes=4)
    assert head.proj is None
    dense = dict(dense=inputs['features'][1], class_embeddings=inputs['class_embeddings'])
    torch.testing.assert_close(head(inputs), DenseCLIPHead(num_classes=4)(dense))


def test_key_smoothing_uses_the_selected_map_without_pyramid():
    inputs = _feature_inputs()
    head = DenseCLIPHead(in_channels=6, in_index=1, embed_dims=8, key_smoothing=True, num_classes=4)
    assert head(inputs).shape == (2, 4, 5, 6)


def test_width_mismatch_without_embed_dims_names_both_widths():
    with pytest.raises(
        ValueError, match=r"\['features'\]\[1\] has 6 channels.*have 8.*embed_dims=8"
    ):
        DenseCLIPHead(in_index=1, num_classes=4)(_feature_inputs())


def test_projection_width_errors_are_explained():
    with pytest.raises(ValueError, match='has 6 channels but in_channels=5'):
        DenseCLIPHead(in_channels=5, in_index=1, embed_dims=8, num_classes=4)(_feature_inputs())
    with pytest.raises(ValueError, match='embed_dims=16 but the class embeddings have 8'):
        DenseCLIPHead(in_channels=6, in_index=1, embed_dims=16, num_classes=4)(_feature_inputs())


# --------------------------------------------------------------------- wrong-segmentor errors
def test_dense_clip_head_refuses_a_plain_tuple():
    maps = tuple(torch.randn(1, 8, 4, 4) for _ in range(4))
    head = DenseCLIPHead(num_classes=4)
    with pytest.raises(TypeError, match=r'received a tuple of 4 Tensors.*OpenVocabEncoderDecoder'):
        head(maps)
    with pytest.raises(TypeError, match=r"received a list of 4 Tensors.*'dense'.*'features'"):
        head(list(maps))
    with pytest.raises(TypeError, match=r"needs 'dense'.*got keys \['class_embeddings'\]"):
        head(dict(class_embeddings=torch.randn(4, 8)))


def test_dense_clip_head_under_plain_encoder_decoder_says_what_to_use():
    model = MODELS.build(
        dict(
            type='EncoderDecoder',
            backbone=dict(
                type='MixVisionTransformer',
                embed_dims=MIT_DIMS,
                num_layers=[1, 1, 1, 1],
                num_heads=[1, 2, 5, 8],
            ),
            decode_head=dict(
                type='DenseCLIPHead', in_channels=MIT_DIMS * 8, in_index=3, embed_dims=32
            ),
        )
    )
    with pytest.raises(TypeError, match='DenseCLIPHead received a list of 4 Tensors'):
        model.loss(torch.randn(1, 3, 64, 64), _samples(1, 3))


def test_text_classifier_head_shares_the_error():
    head = TextClassifierASPPHead(
        embed_dims=8, in_channels=6, channels=4, dilations=(1, 2), num_classes=3
    )
    with pytest.raises(TypeError, match='TextClassifierASPPHead received a tuple of 2 Tensors'):
        head(tuple(torch.randn(1, 6, 4, 4) for _ in range(2)))
    texts = F.normalize(torch.randn(3, 8), dim=1)
    features = (torch.randn(1, 6, 4, 4),)
    assert head(dict(features=features, class_embeddings=texts)).shape == (1, 3, 4, 4)
