# MVP-SEG+ student (docs/methods/mvp_seg.md): DeepLabV3 (TextClassifierASPPHead) on an ImageNet
# ResNet-101 (mmseg's ResNetV1c, dilated, output stride 8, SyncBN) whose classifier is the frozen
# multi-view prompts of a trained MVP-SEG model (MultiViewPromptTextEncoder: the sum of the k=3
# prompt embeddings of each class). The configs set the prompts' checkpoint
# (model.text_encoder.checkpoint), the crop size and PseudoLabelHook's teacher.
# Weights: a local CLIP file for the text tower and checkpoints/resnet101_v1c.pth (ImageNet
# ResNet-101-v1c; without it set model.backbone.init_cfg=None and the backbone starts random).
clip_weights = 'checkpoints/clip/ViT-B-16.pt'
resnet_weights = 'checkpoints/resnet101_v1c.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='OpenVocabEncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet normalisation (the ResNet's)
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=(512, 512),
    ),
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint=resnet_weights),
    ),
    text_encoder=dict(
        type='MultiViewPromptTextEncoder',
        text_encoder=dict(
            type='OpenCLIPTextEncoder', preset='ViT-B-16', pretrained=clip_weights, cache_dir=None
        ),
        checkpoint=None,  # the trained MVP-SEG checkpoint (set by each config)
        num_prompts=3,  # k and n_ctx of the MVP-SEG config
        n_ctx=8,
    ),
    decode_head=dict(
        type='TextClassifierASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        embed_dims=512,  # CLIP ViT-B/16's text embedding width
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'),  # mmseg's DeepLab setting: whole-image inference
)
# The lr is for a total batch of 16 (4 GPUs x 4 images); enable=True rescales it linearly.
auto_scale_lr = dict(enable=False, base_batch_size=16)
randomness = dict(seed=0)
