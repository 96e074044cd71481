"""GroupViT's zero-shot protocol (``GroupViTZeroShotHead`` under ``OpenVocabEncoderDecoder``)
against a straightforward re-implementation of it (docs/methods/groupvit.md)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmpat.models.groupvit import groupvit_zero_shot_cfg

CLASSES = ['background', 'cat', 'dog', 'sky', 'grass', 'car', 'tree', 'road']


def build(class_names=CLASSES, bg_thresh=0.95, test_cfg=None, templates=('a photo of a {}.',)):
    torch.manual_seed(0)
    model = MODELS.build(
        groupvit_zero_shot_cfg(
            'GroupViT-test',
            class_names=class_names,
            bg_thresh=bg_thresh,
            templates=templates,
            test_cfg=test_cfg or dict(mode='whole'),
        )
    )
    head, text = model.decode_head, model.text_encoder
    with torch.no_grad():  # make the class scores spread out (random init gives near-ties)
        head.logit_scale.fill_(math.log(100.0))
        for bn in (head.img_projector.linear_hidden[1], text.projector.linear_hidden[1]):
            bn.running_var.fill_(0.05)
    return model.eval()


def reference_crop(model, crop, names, bg_thresh, templates):
    """The protocol for one crop [1, 3, H, W], written plainly."""
    has_bg = names[0] == 'background'
    fg_names = names[1:] if has_bg else names
    with torch.no_grad():
        feats = model.backbone(crop)
        # 1. soft assignments [N_in, S_out] multiplied stage by stage
        assign = feats['soft_assigns'][0][0].t()
        for soft in feats['soft_assigns'][1:]:
            assign = assign @ soft[0].t()
        h, w = feats['grid']
        groups = assign.shape[1]
        grid = assign.t().reshape(1, groups, h, w)
        grid = F.interpolate(grid, size=crop.shape[2:], mode='bilinear', align_corners=False)[0]
        # 2. hard grouping of each pixel
        group_of_pixel = grid.argmax(dim=0)
        # 3. embeddings
        img_projector = model.decode_head.img_projector
        G = F.normalize(img_projector(feats['tokens'][0]), dim=-1)
        a = F.normalize(img_projector(feats['pooled'])[0], dim=-1)
        rows = []
        for name in fg_names:
            embs = []
            for t in templates:
                tok = model.text_encoder.tokenize([t.format(name)])
                text = model.text_encoder.projector(model.text_encoder(tok))
                embs.append(F.normalize(text[0], dim=-1))
            rows.append(F.normalize(torch.stack(embs).mean(0), dim=-1))
        T = torch.stack(rows)
        # 4.
        s = min(model.decode_head.logit_scale.exp().item(), 100.0)
        S = s * G @ T.t()
        P0 = S.softmax(dim=1)
        # 5. top-k of the whole-image prediction
        k = min(5, len(fg_names))
        image_probs = (s * a @ T.t()).softmax(dim=0)
        top = set(torch.argsort(image_probs, descending=True)[:k].tolist())
        for c in range(len(fg_names)):
            if c not in top:
                S[:, c] = float('-inf')
        # 6.
        S = S.softmax(dim=1) * P0
        # 7.
        fg = torch.zeros(len(fg_names), *crop.shape[2:])
        for g in range(groups):
            fg[:, group_of_pixel == g] = S[g][:, None]
        if not has_bg:
            return fg
        # 8.
        thr = min(bg_thresh, S.max().item())
        bg = (fg.max(dim=0).values < thr).float()
        return torch.cat([bg[None], fg])


def reference_slide(model, image, names, bg_thresh, crop, stride, templates):
    _, _, H, W = image.shape
    total = None
    count = torch.zeros(H, W)
    ys = list(range(0, max(H - crop, 0) + 1, stride))
    xs = list(range(0, max(W - crop, 0) + 1, stride))
    if ys[-1] + crop < H:
        ys.append(H - crop)
    if xs[-1] + crop < W:
        xs.append(W - crop)
    for y in ys:
        for x in xs:
            logits = reference_crop(
                model, image[:, :, y : y + crop, x : x + crop], names, bg_thresh, templates
            )
            if total is None:
                total = torch.zeros(logits.shape[0], H, W)
            total[:, y : y + crop, x : x + crop] += logits
            count[y : y + crop, x : x + crop] += 1
    return total / count


def sample(h, w):
    ds = SegDataSample(
        metainfo=dict(ori_shape=(h, w), img_shape=(h, w), pad_shape=(h, w), padding_size=[0] * 4)
    )
    ds.gt_sem_seg = PixelData(data=torch.zeros(1, h, w, dtype=torch.long))
    return ds


@pytest.mark.parametrize('bg_thresh', [0.95, 0.02])
def test_whole_matches_reference(bg_thresh):
    model = build(bg_thresh=bg_thresh)
    image = torch.randn(1, 3, 64, 80)
    with torch.no_grad():
        ours = model.encode_decode(image, [])[0]
    ref = reference_crop(model, image, CLASSES, bg_thresh, model.templates)
    assert ours.shape == (8, 64, 80)
    assert torch.allclose(ours, ref, atol=1e-6)
    assert torch.equal(ours.argmax(0), ref.argmax(0))
    # the top-k filter is active: only 5 of the 7 foreground classes can be predicted
    assert (ref[1:].flatten(1).max(1).values == 0).sum() == 2


def test_slide_inference_label_map_matches_reference():
    crop, stride = 64, 32
    model = build(test_cfg=dict(mode='slide', crop_size=(crop, crop), stride=(stride, stride)))
    image = torch.randn(1, 3, 64, 112)
    with torch.no_grad():
        out = model.predict(image, [sample(64, 112)])[0]
    ref = reference_slide(model, image, CLASSES, 0.95, crop, stride, model.templates)
    assert torch.allclose(out.seg_logits.data, ref, atol=1e-6)
    assert torch.equal(out.pred_sem_seg.data[0], ref.argmax(0))


def test_without_background_and_templates():
    names = ['cat', 'dog', 'sky']
    templates = ('a photo of a {}.', 'a picture of the {}.')
    model = build(class_names=names, templates=templates)
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = model.encode_decode(image, [])[0]
    ref = reference_crop(model, image, names, 0.95, templates)
    assert ours.shape[0] == 3 and not model.decode_head.has_background(len(names))
    assert torch.allclose(ours, ref, atol=1e-6)


def test_runtime_vocabulary_updates_meta_and_cache():
    model = build()
    first = model.class_embeddings
    assert first.shape[0] == 7  # background is not text-encoded
    model.set_vocabulary(['Background', 'zebra', 'giraffe'])
    assert model.decode_head.has_background(2) and model.out_channels == 3
    assert model.dataset_meta['classes'] == ('Background', 'zebra', 'giraffe')
    assert len(model.dataset_meta['palette']) == 3
    assert model.class_embeddings.shape[0] == 2
    with torch.no_grad():
        out = model.encode_decode(torch.randn(1, 3, 48, 48), [])
    assert out.shape == (1, 3, 48, 48)
    with pytest.raises(ValueError, match='at least 2'):
        model.set_vocabulary(['zebra'])
    # new weights invalidate the cached text embeddings
    cached = model.class_embeddings
    sd = {k: v + 0.01 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    model.load_state_dict(sd)
    assert not torch.allclose(model.class_embeddings, cached)


def test_no_vocabulary_is_a_clear_error():
    model = build(class_names=None)
    with pytest.raises(RuntimeError, match='set_vocabulary'):
        model.encode_decode(torch.randn(1, 3, 32, 32), [])
