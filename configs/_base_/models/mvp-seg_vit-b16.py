# MVP-SEG (multi-view prompt learning, docs/methods/mvp_seg.md) on a frozen CLIP ViT-B/16:
# CLIPPyramid's dense MaskCLIP map -> MultiPromptHead (k=3 segmentation prompts + a global prompt,
# 8 learned context vectors each, through the frozen text encoder). Only the prompts and the
# temperatures train. Weights: a local CLIP file (OpenAI ViT-B-16.pt, open_clip .bin/.safetensors,
# or the output of tools/model_converters/clip2mmpat.py), the same file for both towers.
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
        type='CLIPPyramid', preset=clip_preset, pretrained=clip_weights, out_indices=(12,)
    ),
    text_encoder=dict(
        type='OpenCLIPTextEncoder', preset=clip_preset, pretrained=clip_weights, cache_dir=None
    ),
    decode_head=dict(
        type='MultiPromptHead',
        num_prompts=3,  # k
        n_ctx=8,
        context_std=0.02,
        use_gpr=True,
        tau1=50.0,
        tau2=0.07,
        gamma=10.0,
        loss_decode=dict(type='FusedMaskNLLLoss', loss_weight=1.0),  # l1 L_seg
        loss_cls=dict(type='PresenceBCELoss', loss_weight=1.0),  # l2 L_cls
        loss_oc=dict(type='OCLoss', loss_weight=1.0),  # l3 L_OC
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)),
)
# Inductive zero-shot: the training vocabulary must not name an unseen class.
custom_hooks = [dict(type='VocabularyHook', inductive=True)]
