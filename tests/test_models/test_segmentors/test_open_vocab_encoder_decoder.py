"""OpenVocabEncoderDecoder: run-time vocabulary through whole/slide inference, loss and _forward."""

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def build(mode: str = 'whole', class_names=None):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='OpenVocabEncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]),
            backbone=dict(type='CLIPPyramid', preset='ViT-test', out_indices=(1, 2)),
            text_encoder=dict(type='OpenCLIPTextEncoder', preset='ViT-test', templates='simple'),
            decode_head=dict(type='DenseCLIPHead', logit_scale=10.0),
            class_names=class_names,
            test_cfg=dict(mode=mode, crop_size=(32, 32), stride=(16, 16)),
        )
    ).eval()


def metas(size=(48, 64)):
    return [dict(img_shape=size, ori_shape=size, pad_shape=size, padding_size=[0, 0, 0, 0])]


def test_logits_follow_the_vocabulary():
    model = build(class_names=['cat', 'dog, puppy', 'sky'])
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        logits3 = model.encode_decode(images, metas((32, 32)))
        model.set_vocabulary(['sky', 'cat'])
        logits2 = model.encode_decode(images, metas((32, 32)))
        feats = model.backbone(images)
        texts = model.text_encoder.encode_vocabulary(['sky', 'cat'], templates='simple')
    assert logits3.shape == (1, 3, 32, 32) and logits2.shape == (1, 2, 32, 32)
    # Per-class cosine logits do not depend on the other classes: same class, same logits.
    torch.testing.assert_close(logits2[:, 0], logits3[:, 2])
    torch.testing.assert_close(logits2[:, 1], logits3[:, 0])
    dense = F.normalize(feats['dense'], dim=1)
    expected = 10.0 * torch.einsum('bdhw,cd->bchw', dense, texts)
    expected = F.interpolate(expected, size=(32, 32), mode='bilinear', align_corners=False)
    torch.testing.assert_close(logits2, expected, rtol=1e-4, atol=1e-4)
    assert model.dataset_meta['classes'] == ('sky', 'cat')
    assert model.num_classes == model.out_channels == model.decode_head.out_channels == 2


def test_slide_inference_uses_the_current_vocabulary():
    model = build(mode='slide', class_names=['a', 'b'])
    images = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        assert model.inference(images, metas()).shape == (1, 2, 48, 64)
        model.set_vocabulary(['a', 'b', 'c', 'd'])
        logits = model.inference(images, metas())
        crop = model.encode_decode(images[:, :, :32, :32], metas((32, 32)))
    assert logits.shape == (1, 4, 48, 64)
    # The top-left corner is covered by one crop only: slide equals that crop's logits there.
    torch.testing.assert_close(logits[:, :, :16, :16], crop[:, :, :16, :16])


def test_predict_loss_and_forward_for_flops_tools():
    model = build(class_names=['a', 'b', 'c'])
    sample = SegDataSample(metainfo=metas((32, 32))[0])
    sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 32, 32)))
    data = model.data_preprocessor(
        dict(inputs=[torch.rand(3, 32, 32) * 255], data_samples=[sample])
    )
    with torch.no_grad():
        pred = model.predict(data['inputs'], data['data_samples'])[0]
        raw = model._forward(data['inputs'])
    assert pred.pred_sem_seg.data.shape == (1, 32, 32) and pred.seg_logits.data.shape[0] == 3
    assert raw.shape[:2] == (1, 3)
    model.train()
    losses = model.loss(data['inputs'], data['data_samples'])
    assert torch.isfinite(losses['decode.loss_ce'])


def test_missing_or_bad_vocabulary_is_explained():
    model = build()
    with pytest.raises(RuntimeError, match='no vocabulary'):
        model.encode_decode(torch.randn(1, 3, 32, 32), metas((32, 32)))
    with pytest.raises(ValueError, match='empty'):
        model.set_vocabulary([])
    with pytest.raises(ValueError, match='Duplicate'):
        model.set_vocabulary(['cat', 'cat'])
    with pytest.raises(ValueError, match='Duplicate'):
        model.set_vocabulary('Cat; dog; cat')
    with pytest.raises(ValueError, match=r"\['cat'\] has one class.*at least two"):
        model.set_vocabulary('cat')
