# Training-free dense-CLIP (MaskCLIP-style) zero-shot segmentor on a frozen CLIP ViT-B/16.
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
        templates='maskclip',
        cache_dir='work_dirs/text_embedding_cache',
    ),
    decode_head=dict(
        type='DenseCLIPHead',
        logit_scale=100.0,
        key_smoothing=False,  # MaskCLIP refinements, off in the plain baseline
        denoise_threshold=None,
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224)),
)
custom_hooks = [dict(type='VocabularyHook')]
# Training-free: evaluation loops only.
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
