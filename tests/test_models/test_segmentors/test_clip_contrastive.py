"""CLIPContrastive: the InfoNCE against an explicit per-pair computation, the model's loss
against its own encoders, the forward modes and clear errors."""

from __future__ import annotations

import math

import open_clip
import pytest
import torch
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmpat.models.segmentors.clip_contrastive import (
    clip_contrastive_loss,
    multi_positive_contrastive_loss,
)
from mmpat.models.utils import all_gather_with_grad

CAPTIONS = ['a red circle', 'a blue star and a green cross', 'a white square', 'a yellow object']


def reference_infonce(img: torch.Tensor, txt: torch.Tensor, scale: float) -> float:
    """Per-pair python loops: -log softmax of the matching pair, both directions, averaged."""
    n = img.shape[0]
    sim = [[scale * float(img[i] @ txt[j]) for j in range(n)] for i in range(n)]
    i2t = [-(sim[i][i] - math.log(sum(math.exp(s) for s in sim[i]))) for i in range(n)]
    col = [[sim[i][j] for i in range(n)] for j in range(n)]
    t2i = [-(col[j][j] - math.log(sum(math.exp(s) for s in col[j]))) for j in range(n)]
    return 0.5 * (sum(i2t) / n + sum(t2i) / n)


def samples(captions=CAPTIONS) -> list[SegDataSample]:
    out = []
    for caption in captions:
        sample = SegDataSample()
        sample.set_metainfo(dict(caption=caption, captions=[caption]))
        out.append(sample)
    return out


@pytest.fixture
def model():
    torch.manual_seed(0)
    return MODELS.build(dict(type='CLIPContrastive', preset='ViT-test'))


def test_infonce_matches_reference():
    torch.manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(5, 8), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(5, 8), dim=1)
    loss = clip_contrastive_loss(img, txt, torch.tensor(7.5))
    assert loss.item() == pytest.approx(reference_infonce(img, txt, 7.5), rel=1e-5)
    # A slice of a gathered batch: only the local rows are scored, against all columns.
    part = clip_contrastive_loss(img, txt, torch.tensor(7.5), offset=2, local_batch=2)
    sim = 7.5 * img @ txt.T
    labels = torch.tensor([2, 3])
    expected = 0.5 * (
        torch.nn.functional.cross_entropy(sim[2:4], labels)
        + torch.nn.functional.cross_entropy(sim.T[2:4], labels)
    )
    assert part.item() == pytest.approx(expected.item(), rel=1e-5)
    # Perfectly aligned, well separated pairs give a near-zero loss.
    eye = torch.eye(5, 8)
    assert clip_contrastive_loss(eye, eye, torch.tensor(100.0)).item() < 1e-6


def test_gather_without_distributed_is_identity():
    x = torch.randn(3, 4)
    out, offset = all_gather_with_grad(x)
    assert out is x and offset == 0


def test_loss_mode_equals_reference_and_trains(model):
    inputs = torch.randn(4, 3, 32, 32)
    losses = model(inputs, samples(), mode='loss')
    assert set(losses) == {'loss_itc', 'logit_scale'}
    with torch.no_grad():
        img = model.clip.encode_image(inputs, normalize=True)
        tokens = open_clip.tokenize(CAPTIONS, context_length=77)
        txt = model.clip.encode_text(tokens, normalize=True)
    scale = model.clip.logit_scale.exp().item()
    assert losses['logit_scale'].item() == pytest.approx(1 / 0.07, rel=1e-4)
    assert losses['loss_itc'].item() == pytest.approx(reference_infonce(img, txt, scale), rel=1e-4)
    losses['loss_itc'].backward()
    assert model.clip.logit_scale.grad is not None
    assert model.clip.visual.conv1.weight.grad.abs().sum() > 0
    assert model.clip.token_embedding.weight.grad.abs().sum() > 0


def test_temperature_is_clamped(model):
    with torch.no_grad():
        model.clip.logit_scale.fill_(10.0)  # exp(10) >> 100
    assert model.logit_scale().item() == pytest.approx(100.0)
    losses = model(torch.randn(2, 3, 32, 32), samples(CAPTIONS[:2]), mode='loss')
    losses['loss_itc'].backward()
    assert model.clip.logit_scale.grad.item() == 0.0  # no push beyond the clamp


def test_tensor_and_predict_modes(model):
    inputs = torch.randn(3, 3, 32, 32)
    model.eval()
    img, txt = model(inputs, samples(CAPTIONS[:3]), mode='tensor')
    assert img.shape == (3, 32) and txt.shape == (3, 32)
    torch.testing.assert_close(img.norm(dim=1), torch.ones(3))
    out = model(inputs, samples(CAPTIONS[:3]), mode='predict')
    scores = torch.stack([s.itc_scores for s in out])
    torch.testing.assert_close(scores, model.logit_scale() * img @ txt.T)
    torch.testing.assert_close(out[1].image_embed, img[1])


def test_data_preprocessor_normalises_like_clip(model):
    raw = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    data = model.data_preprocessor(dict(inputs=raw, data_samples=samples(CAPTIONS[:2])), True)
    rgb = torch.stack(raw).flip(1).float() / 255  # BGR (as loaded by mmcv) -> RGB
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    torch.testing.assert_close(data['inputs'], (rgb - mean) / std, atol=1e-4, rtol=1e-4)


def test_clear_errors(model):
    with pytest.raises(KeyError, match='caption'):
        model(torch.randn(1, 3, 32, 32), [SegDataSample()], mode='loss')
    with pytest.raises(ValueError, match='preset image size'):
        model(torch.randn(1, 3, 40, 40), samples(CAPTIONS[:1]), mode='loss')
    with pytest.raises(ValueError, match='Invalid mode'):
        model(torch.randn(1, 3, 32, 32), samples(CAPTIONS[:1]), mode='nope')
    with pytest.raises(KeyError, match='Unknown CLIP preset'):
        MODELS.build(dict(type='CLIPContrastive', preset='ViT-nope'))


def _gather_worker(rank: int, init_file: str, feats, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    try:
        img_all, txt_all = feats
        img = img_all[2 * rank : 2 * rank + 2].clone().requires_grad_(True)
        txt = txt_all[2 * rank : 2 * rank + 2].clone().requires_grad_(True)
        all_img, offset = all_gather_with_grad(img)
        all_txt, _ = all_gather_with_grad(txt)
        loss = clip_contrastive_loss(
            all_img, all_txt, torch.tensor(5.0), offset=offset, local_batch=2
        )
        loss.backward()
        result = (rank, loss.item(), img.grad.clone(), txt.grad.clone())
        torch.save(result, f'{out_dir}/rank{rank}.pt')
    finally:
        dist.destroy_process_group()


def test_two_process_gather_matches_one_process(tmp_path):
    """Averaging the two ranks' gradients (what DDP does) equals the one-process gradient."""
    import os

    import torch.multiprocessing as mp

    torch.manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(4, 6), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(4, 6), dim=1)
    ref_img, ref_txt = img.clone().requires_grad_(True), txt.clone().requires_grad_(True)
    ref = clip_contrastive_loss(ref_img, ref_txt, torch.tensor(5.0))
    ref.backward()

    os.environ.setdefault('GLOO_SOCKET_IFNAME', 'lo')
    # spawn, not fork: a forked child can deadlock on torch's thread pools
    init_file = str(tmp_path / 'dist_init')
    mp.spawn(_gather_worker, args=(init_file, (img, txt), str(tmp_path)), nprocs=2, join=True)
    results = [torch.load(tmp_path / f'rank{r}.pt') for r in range(2)]
    assert sum(r[1] for r in results) / 2 == pytest.approx(ref.item(), rel=1e-5)
    for rank, _, grad_img, grad_txt in results:
        rows = slice(2 * rank, 2 * rank + 2)
        # Each rank's features get the gradient of both ranks' losses (= 2 x the mean loss).
        torch.testing.assert_close(grad_img / 2, ref_img.grad[rows])
        torch.testing.assert_close(grad_txt / 2, ref_txt.grad[rows])


def reference_multi_positive(img, txt, positives, scale) -> float:
    """Per-row loops: cross-entropy against the uniform distribution over each row's positives."""
    logits = (scale * img @ txt.T).tolist()
    rows, cols = len(logits), len(logits[0])

    def soft_ce(values, targets):
        log_z = math.log(sum(math.exp(v) for v in values))
        k = sum(targets)
        return -sum(t / k * (v - log_z) for v, t in zip(values, targets))

    i2t = [soft_ce(logits[i], positives[i].tolist()) for i in range(rows)]
    t2i = [
        soft_ce([logits[i][j] for i in range(rows)], positives[:, j].tolist()) for j in range(cols)
    ]
    return 0.5 * (sum(i2t) / rows + sum(t2i) / cols)


def test_multi_positive_loss_matches_reference_and_infonce():
    torch.manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(3, 8), dim=1)
    positives = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 1]])
    loss = multi_positive_contrastive_loss(img, txt, positives, torch.tensor(6.0))
    assert loss.item() == pytest.approx(
        reference_multi_positive(img, txt, positives.float(), 6.0), rel=1e-5
    )
    # One positive per row and column: CLIP's InfoNCE.
    square = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    same = multi_positive_contrastive_loss(img, square, torch.eye(4), torch.tensor(6.0))
    assert same.item() == pytest.approx(clip_contrastive_loss(img, square, 6.0).item(), rel=1e-6)
    with pytest.raises(ValueError, match='at least one positive'):
        multi_positive_contrastive_loss(img, txt, torch.zeros(4, 3), torch.tensor(6.0))


def tag_samples(tags_per_image) -> list[SegDataSample]:
    out = []
    for tags in tags_per_image:
        sample = SegDataSample()
        sample.set_metainfo(dict(caption=tags[0], captions=list(tags), tags=list(tags)))
        out.append(sample)
    return out


def test_tags_loss_uses_distinct_prompts_and_frozen_text_tower():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type='CLIPContrastive', preset='ViT-test', loss_type='tags', freeze_text_tower=True)
    )
    text_params = [n for n, p in model.clip.named_parameters() if not p.requires_grad]
    assert text_params and not any(n.startswith('visual.') for n in text_params)
    assert model.clip.logit_scale.requires_grad
    tags = [['red circle'], ['red circle', 'blue star'], ['white cross']]
    data = tag_samples(tags)
    prompts, positives = model.tag_prompts_of(data)
    assert prompts == [
        'a photo of a blue star.',
        'a photo of a red circle.',
        'a photo of a white cross.',
    ]
    assert positives.tolist() == [[0, 1, 0], [1, 1, 0], [0, 0, 1]]
    images = torch.randn(3, 3, 32, 32)
    losses = model(images, data, mode='loss')
    expected = multi_positive_contrastive_loss(
        model.encode_image(images), model.encode_text(prompts), positives, model.logit_scale()
    )
    assert losses['loss_itc'].item() == pytest.approx(expected.item(), rel=1e-5)
    losses['loss_itc'].backward()
    assert model.clip.visual.conv1.weight.grad is not None
    assert model.clip.token_embedding.weight.grad is None
    with pytest.raises(KeyError, match=r'has no .*tags.* list in its metainfo'):
        model(images, samples(CAPTIONS[:3]), mode='loss')
    # Weighted tags: targets proportional to weight ** power (the largest object leads).
    weighted = MODELS.build(
        dict(
            type='CLIPContrastive',
            preset='ViT-test',
            loss_type='tags',
            tag_weight_power=2.0,
            init_logit_scale=50.0,
        )
    )
    assert weighted.logit_scale().item() == pytest.approx(50.0, rel=1e-5)
    data = tag_samples(tags)
    for sample, weights in zip(data, [[4.0], [1.0, 3.0], [2.0]]):
        sample.set_metainfo(dict(tag_weights=weights))
    _, positives = weighted.tag_prompts_of(data)
    assert positives.tolist() == [[0, 16, 0], [9, 1, 0], [0, 0, 4]]
    with pytest.raises(KeyError, match='no "tag_weights"'):
        weighted.tag_prompts_of(tag_samples(tags))
    with pytest.raises(ValueError, match='init_logit_scale must be in'):
        MODELS.build(dict(type='CLIPContrastive', preset='ViT-test', init_logit_scale=500.0))
    with pytest.raises(ValueError, match='loss_type must be one of'):
        MODELS.build(dict(type='CLIPContrastive', preset='ViT-test', loss_type='nouns'))
