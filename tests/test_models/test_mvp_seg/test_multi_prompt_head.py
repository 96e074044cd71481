"""MultiPromptHead: fusion and GPR against direct computations, loss/predict in whole and slide
mode under OpenVocabEncoderDecoder, only prompts and temperatures learn, bad input."""

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmpat  # noqa: F401
from mmpat.models.decode_heads.multi_prompt_head import fuse_masks, refine_scores

init_default_scope('mmseg')


def _model(mode='whole', **head):
    head = {'type': 'MultiPromptHead', 'num_prompts': 3, 'n_ctx': 4, **head}
    test_cfg = dict(crop_size=(32, 32), stride=(16, 16)) if mode == 'slide' else {}
    return MODELS.build(
        dict(
            type='OpenVocabEncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[0] * 3, std=[1] * 3),
            backbone=dict(type='CLIPPyramid', preset='ViT-test', out_indices=(2,)),
            text_encoder=dict(type='OpenCLIPTextEncoder', preset='ViT-test', templates='simple'),
            decode_head=head,
            class_names=['cat', 'dog', 'sky'],
            test_cfg=dict(mode=mode, **test_cfg),
        )
    )


def _samples(batch=2, size=48):
    samples = []
    for _ in range(batch):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, size, size)))
        sample.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size)))
        samples.append(sample)
    return samples


def test_fusion_and_gpr_match_a_direct_computation():
    torch.manual_seed(0)
    masks = torch.rand(2, 3, 4, 5, 6) * 2 - 1  # [B, k, C, h, w] cosines
    tau1 = 7.0
    fused = fuse_masks(masks, tau1)
    for b in range(2):
        for y in range(5):
            for x in range(6):
                scores = [tau1 * sum(masks[b, i, c, y, x] for i in range(3)) for c in range(4)]
                expected = torch.log_softmax(torch.stack(scores), dim=0)
                assert torch.allclose(fused[b, :, y, x], expected, atol=1e-5)
    global_masks = masks[:, 0]
    gamma, tau2 = 3.0, 0.2
    logits = refine_scores(global_masks, gamma, tau2)
    for b in range(2):
        for c in range(4):
            values = global_masks[b, c].flatten()
            weights = torch.exp(gamma * values) / torch.exp(gamma * values).sum()
            expected = (values * weights).sum() / tau2
            assert logits[b, c].item() == pytest.approx(expected.item(), rel=1e-5)


def test_head_output_is_fusion_times_gpr_from_prompted_embeddings():
    model = _model()
    head = model.decode_head
    feats = model.extract_feat(torch.randn(2, 3, 48, 48))
    parts = head.forward_parts(feats)
    dense = F.normalize(feats['dense'], dim=1)
    contexts = torch.cat([head.global_context, head.seg_context])
    texts = model.text_encoder.encode_with_prompts(contexts, ['cat', 'dog', 'sky'])
    masks = torch.einsum('bdhw,pcd->bpchw', dense, texts)
    assert torch.allclose(parts['masks'], masks[:, 1:], atol=1e-5)
    fused = torch.softmax(head.log_tau1.exp() * masks[:, 1:].sum(1), dim=1)
    g = torch.sigmoid(refine_scores(masks[:, 0], head.log_gamma.exp(), head.log_tau2.exp()))
    final = fused * g[:, :, None, None]
    assert torch.allclose(parts['log_masks'].exp(), final, atol=1e-5)
    assert parts['log_masks'].shape == (2, 3, 6, 6)


@pytest.mark.parametrize('mode', ['whole', 'slide'])
def test_loss_trains_only_prompts_and_temperatures_and_predict_runs(mode):
    model = _model(mode)
    losses = model.loss(torch.randn(2, 3, 48, 48), _samples())
    assert {'decode.loss_seg', 'decode.loss_cls', 'decode.loss_oc', 'decode.acc_seg'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {
        'decode_head.seg_context',
        'decode_head.global_context',
        'decode_head.log_tau1',
        'decode_head.log_tau2',
        'decode_head.log_gamma',
    }
    assert all(model.get_parameter(n).grad.abs().sum() > 0 for n in trainable)
    model.eval()
    calls = []
    encode = model.text_encoder.encode_with_prompts
    model.text_encoder.encode_with_prompts = lambda *a: calls.append(1) or encode(*a)
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, 48, 48), _samples(1))
        again = model.predict(torch.randn(1, 3, 48, 48), _samples(1))
    assert out[0].pred_sem_seg.data.shape == (1, 48, 48)
    assert out[0].seg_logits.data.shape == (3, 48, 48)
    assert again[0].pred_sem_seg.data.max() < 3
    assert len(calls) == 1  # the prompt embeddings are encoded once for all crops and images
    model.set_vocabulary(['cat', 'dog', 'sky', 'tree'])  # any vocabulary: prompts are generic
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, 48, 48), _samples(1))
    assert out[0].seg_logits.data.shape[0] == 4 and len(calls) == 2


def test_without_gpr_there_is_no_global_prompt_and_no_cls_loss():
    model = _model(use_gpr=False, loss_oc=None)
    assert model.decode_head.global_context is None
    losses = model.loss(torch.randn(2, 3, 48, 48), _samples())
    assert set(losses) == {'decode.loss_seg', 'decode.acc_seg'}
    feats = model.extract_feat(torch.randn(1, 3, 48, 48))
    out = model.decode_head(feats)
    assert torch.allclose(out.exp().sum(1), torch.ones(1, 6, 6), atol=1e-5)


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match='num_prompts'):
        _model(num_prompts=0)
    with pytest.raises(ValueError, match='n_ctx'):
        _model(n_ctx=0)
    model = _model()
    long_name = ' '.join(['word'] * 80)
    with pytest.raises(ValueError, match='class name .*word word.* n_ctx=4'):
        model.set_vocabulary(['cat', long_name])
    assert model.class_names == ['cat', 'dog', 'sky']  # the old vocabulary stays
    with pytest.raises(ValueError, match='context_width=16 but the text encoder'):
        _model(context_width=16)


def test_context_init_starts_every_prompt_as_the_phrase_template():
    torch.manual_seed(0)
    model = _model(context_init='a photo of a', context_std=0.0)
    head, encoder = model.decode_head, model.text_encoder
    phrase = encoder.phrase_embeddings('a photo of a')
    assert phrase.shape == (4, encoder.width)
    for context in (head.seg_context, head.global_context):
        assert torch.equal(context.detach(), phrase.expand_as(context))
    # With no noise, each prompt encodes the classes exactly as the hand-made template does.
    texts = encoder.encode_with_prompts(head.seg_context[:1], ['cat', 'dog', 'sky'])[0]
    hand_made = F.normalize(encoder.encode_tokens(encoder.tokenize(['a photo of a cat.'])), dim=-1)
    assert torch.allclose(F.normalize(texts[0], dim=-1), hand_made[0], atol=1e-5)


def test_context_init_adds_noise_so_the_prompts_differ():
    torch.manual_seed(0)
    head = _model(context_init='a photo of a', context_std=0.01).decode_head
    first, second = head.seg_context[0], head.seg_context[1]
    assert not torch.equal(first, second)
    assert (first - second).abs().max() < 0.1


def test_context_init_longer_than_n_ctx_is_refused():
    with pytest.raises(ValueError, match=r"'a photo of a' has 4 tokens, more than n_ctx=2"):
        _model(context_init='a photo of a', n_ctx=2)
