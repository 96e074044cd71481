# PAT (Feature Pyramid Tokenization, arXiv 2412.14145; docs/methods/pat.md) on a frozen CLIP
# ViT-B/16: CLIPPyramid -> PyramidTokenizer (+ the shared TopDownFPN decoder) -> SemanticFusionHead
# (semantic branch, the decode head) and PixelReconHead (pixel branch, an auxiliary head).
# Weights: a local CLIP file (OpenAI ViT-B-16.pt, open_clip .bin/.safetensors, or the output of
# tools/model_converters/clip2mmpat.py), the same file for the image and the text tower.
clip_preset = 'ViT-B-16'
clip_weights = 'checkpoints/clip/ViT-B-16.pt'
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.771, 116.746, 104.094],  # CLIP's normalisation
    std=[68.501, 66.632, 70.323],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512),
)
model = dict(
    type='OpenVocabEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='CLIPPyramid', preset=clip_preset, pretrained=clip_weights, out_indices=(3, 6, 9, 12)
    ),
    text_encoder=dict(
        type='OpenCLIPTextEncoder',
        preset=clip_preset,
        pretrained=clip_weights,
        templates='vild',
        cache_dir='work_dirs/text_embedding_cache',
    ),
    neck=dict(
        type='PyramidTokenizer',
        in_channels=[768, 768, 768, 768],
        codebook_sizes=[1024, 512, 256, 128],  # fine to coarse
        code_dim=256,
        rescales=(4, 2, 1, 0.5),
        decay=0.99,
        beta=0.25,
        restart_after=100,
        decoder=dict(type='TopDownFPN', channels=128),
    ),
    decode_head=dict(
        type='SemanticFusionHead',
        pyramid_channels=[768, 768, 768, 768],
        embed_dims=512,
        channels=256,
        rescales=(4, 2, 1, 0.5),
        token_channels=128,  # None: the baseline (no tokens)
        token_grad_scale=0.1,  # loose coupling of the semantic loss to the tokenizer
        dense_residual=True,
        logit_scale=50.0,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True),
    ),
    auxiliary_head=dict(type='PixelReconHead', in_channels=128, channels=64, loss_weight=1.0),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)),
)
custom_hooks = [dict(type='VocabularyHook')]
