# GroupViT-S zero-shot segmentor (GroupViT, Xu et al., CVPR 2022; docs/methods/groupvit.md), one
# OpenVocabEncoderDecoder: the GroupViT image encoder as backbone, GroupViT's text encoder
# (template 'a photo of a {}.') and the zero-shot protocol as decode head (top-5 class filter;
# a first class 'background' is decided by bg_thresh, not text-encoded). ImageNet mean/std,
# slide 448 crop / 224 stride. The vocabulary comes from the test dataset (VocabularyHook).
# Weights: `pretrained`, one GroupViT checkpoint (a released .pth, converted on load, or its
# groupvit2mmpat output) of which the backbone, the text encoder and the head each load their
# part (mmseg's init_model / MMSegInferencer clear it and load their checkpoint instead).
# mmpat.models.groupvit.groupvit_zero_shot_cfg('GroupViT-S') writes this model for any preset.
model = dict(
    type='OpenVocabEncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
    ),
    backbone=dict(
        type='GroupViT',
        img_size=224,
        patch_size=16,
        embed_dim=384,
        num_heads=6,
        depths=(6, 3, 3),
        num_group_tokens=(64, 8, 0),
        num_output_groups=(64, 8),
        drop_path_rate=0.1,
    ),
    text_encoder=dict(
        type='GroupViTTextEncoder',
        context_length=77,
        vocab_size=49408,
        width=256,
        heads=4,
        layers=12,
        proj=dict(hidden_dim=4096, out_dim=256),
    ),
    decode_head=dict(
        type='GroupViTZeroShotHead',
        in_channels=384,
        proj=dict(hidden_dim=4096, out_dim=256),
        bg_thresh=0.95,
        topk=5,
        align_corners=False,
    ),
    templates=['a photo of a {}.'],
    pretrained=None,
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224)),
)
custom_hooks = [dict(type='VocabularyHook')]
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    visualization=dict(type='SegVisualizationHook'),
)
