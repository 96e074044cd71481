"""``GroupViTZeroShotHead`` under ``OpenVocabEncoderDecoder`` gives the logits of the former
``GroupViTZeroShot`` segmentor (a verbatim copy: tests/helpers/groupvit_legacy.py) on the same
weights, in whole and slide inference; the ``GroupViTZeroShot`` alias builds the same weights
from the same seed; checkpoints of the former layout load into the new one."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from helpers.groupvit_legacy import LegacyGroupViTZeroShot
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmpat.models.groupvit import (
    convert_groupvit_state_dict,
    groupvit_zero_shot_cfg,
    upgrade_legacy_keys,
)

CLASSES = ['background', 'cat', 'dog', 'sky', 'grass', 'car', 'tree', 'road']
SLIDE = dict(mode='slide', crop_size=(64, 64), stride=(32, 32))


def former(class_names, bg_thresh, test_cfg):
    """The former segmentor, with class scores spread out (random init gives near-ties)."""
    torch.manual_seed(0)
    model = LegacyGroupViTZeroShot(
        arch='GroupViT-test', class_names=class_names, bg_thresh=bg_thresh, test_cfg=test_cfg
    )
    with torch.no_grad():
        model.logit_scale.fill_(math.log(100.0))
        for bn in (model.img_projector.linear_hidden[1], model.text_projector.linear_hidden[1]):
            bn.running_var.fill_(0.05)
            bn.running_mean.normal_(0, 0.1)
    return model.eval()


def sample(h, w):
    ds = SegDataSample(
        metainfo=dict(ori_shape=(h, w), img_shape=(h, w), pad_shape=(h, w), padding_size=[0] * 4)
    )
    ds.gt_sem_seg = PixelData(data=torch.zeros(1, h, w, dtype=torch.long))
    return ds


@pytest.mark.parametrize('test_cfg', [dict(mode='whole'), SLIDE], ids=['whole', 'slide'])
@pytest.mark.parametrize(
    ('class_names', 'bg_thresh'),
    [(CLASSES, 0.95), (CLASSES, 0.02), (['cat', 'dog', 'sky'], 0.95)],
    ids=['background', 'low-threshold', 'no-background'],
)
def test_head_gives_the_former_logits(test_cfg, class_names, bg_thresh):
    old = former(class_names, bg_thresh, test_cfg)
    new = MODELS.build(
        groupvit_zero_shot_cfg(
            'GroupViT-test', class_names=class_names, bg_thresh=bg_thresh, test_cfg=test_cfg
        )
    )
    new.load_state_dict(old.state_dict())  # the former layout, renamed on load
    new.eval()
    assert type(new).__name__ == 'OpenVocabEncoderDecoder'
    assert type(new.decode_head).__name__ == 'GroupViTZeroShotHead'
    torch.manual_seed(1)
    image = torch.randn(2, 3, 64, 112)
    with torch.no_grad():
        assert torch.equal(new.class_embeddings, old.class_embeddings)
        crop = image[:, :, :, :64]
        assert torch.equal(new.encode_decode(crop, []), old.encode_decode(crop, []))
        metas = [sample(64, 112), sample(64, 112)]
        ours = new.predict(image, metas)
        ref = old.predict(image, [sample(64, 112), sample(64, 112)])
    for a, b in zip(ours, ref):
        assert a.seg_logits.data.shape == (len(class_names), 64, 112)
        assert (a.seg_logits.data - b.seg_logits.data).abs().max() < 1e-6
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)


def test_alias_draws_the_former_weights():
    torch.manual_seed(0)
    old = LegacyGroupViTZeroShot(arch='GroupViT-test')
    after_old = torch.rand(3)
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning, match='GroupViTZeroShotHead'):
        alias = MODELS.build(dict(type='GroupViTZeroShot', arch='GroupViT-test'))
    after_alias = torch.rand(3)
    assert torch.equal(after_old, after_alias)  # the generator is where it was
    expected = dict(old.state_dict())
    assert upgrade_legacy_keys(expected)
    ours = alias.state_dict()
    assert set(ours) == set(expected)
    for key, value in expected.items():
        assert torch.equal(ours[key], value), key
    # the former attribute names reach the parts
    assert alias.img_projector is alias.decode_head.img_projector
    assert alias.text_projector is alias.text_encoder.projector
    assert alias.logit_scale is alias.decode_head.logit_scale


def test_former_checkpoints_load(tmp_path):
    old = former(CLASSES, 0.95, dict(mode='whole'))
    path = tmp_path / 'former.pth'
    torch.save(dict(state_dict=old.state_dict(), meta=dict()), path)
    model = MODELS.build(groupvit_zero_shot_cfg('GroupViT-test', class_names=CLASSES)).eval()
    load_checkpoint(model, str(path), map_location='cpu', strict=True)  # mmengine's loader
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.encode_decode(image, []), old.encode_decode(image, []))
    # the converter gives the new layout for a former mmpat checkpoint too
    converted = convert_groupvit_state_dict(torch.load(path, weights_only=True))
    assert set(converted) == set(model.state_dict())
    assert torch.equal(converted['decode_head.logit_scale'], old.logit_scale)


def test_shipped_base_config_is_the_preset_model():
    path = Path(__file__).parents[3] / 'configs/_base_/models/groupvit-s.py'
    shipped = Config.fromfile(str(path)).model.to_dict()
    assert shipped.pop('pretrained') is None  # set by the configs of the released weights
    slide = dict(mode='slide', crop_size=(448, 448), stride=(224, 224))
    expected = groupvit_zero_shot_cfg('GroupViT-S', test_cfg=slide)
    expected = {k: v for k, v in expected.items() if v not in (None, {})}
    as_lists = lambda cfg: json.loads(json.dumps(cfg))  # noqa: E731  (tuples as lists)
    assert as_lists(shipped) == as_lists(expected)


def test_segmentor_pretrained_loads_every_part(tmp_path):
    old = former(CLASSES, 0.95, dict(mode='whole'))
    path = tmp_path / 'former.pth'
    torch.save(dict(state_dict=old.state_dict()), path)
    cfg = groupvit_zero_shot_cfg('GroupViT-test', class_names=CLASSES, pretrained=str(path))
    model = MODELS.build(cfg).eval()
    expected = dict(old.state_dict())
    upgrade_legacy_keys(expected)
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.encode_decode(image, []), old.encode_decode(image, []))
    # another variant is refused, naming the part and the shapes
    cfg = groupvit_zero_shot_cfg('GroupViT-tiny', pretrained=str(path))
    with pytest.raises(ValueError, match=r'the backbone of .*former.pth.* does not fit'):
        MODELS.build(cfg)
