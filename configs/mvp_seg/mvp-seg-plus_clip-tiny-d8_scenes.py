# MVP-SEG+ on the generated scenes (transductive): a DeepLabV3 student whose classifier is the
# frozen multi-view prompts of the trained MVP-SEG (configs/mvp_seg/mvp-seg_clip-tiny_scenes.py).
# Its backbone is the scenes VLM's image tower, fine-tuned and dilated to output stride 8: the
# scenes' stand-in for the paper's ImageNet-pretrained ResNet-101 (no ImageNet weights offline: a
# ResNet-18 from scratch reached mIoU 13.64 in 600 iterations, this one 67.67; 74.44 in 1000). It
# trains 1000 iterations on the first 2000 `pretrain` images with every class in the vocabulary,
# the pixels of unseen classes unlabelled (ScenesDataset(unlabelled_unseen=True)); PseudoLabelHook
# labels them with the teacher's unseen argmax for the first 100 iterations, then with the
# student's own (self-training). Train the teacher first, then:
#   python tools/train.py configs/mvp_seg/mvp-seg-plus_clip-tiny-d8_scenes.py
_base_ = [
    '../_base_/datasets/scenes.py',
    '../_base_/schedules/schedule_scenes_1k.py',
    '../_base_/default_runtime.py',
]
clip_weights = 'work_dirs/clip-tiny_scenes/clip_tiny.pth'
teacher_config = 'configs/mvp_seg/mvp-seg_clip-tiny_scenes.py'
teacher_checkpoint = 'work_dirs/mvp-seg_clip-tiny_scenes/iter_1000.pth'
max_iters = 1000  # 0.29 s/iteration on one core
switch_iter = 100  # the paper's share: pseudo-labels from the teacher for the first 10%
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
norm_cfg = dict(type='BN', requires_grad=True)  # the head's; SyncBN on several GPUs
model = dict(
    type='OpenVocabEncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[122.771, 116.746, 104.094],  # CLIP's normalisation: the backbone is its tower
        std=[68.501, 66.632, 70.323],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=(96, 96),
    ),
    backbone=dict(
        type='CLIPPyramid',
        preset='timm-resnet-scenes-tiny',
        pretrained=clip_weights,
        frozen=False,  # fine-tuned, as the paper's student fine-tunes its ImageNet ResNet
        output_stride=8,  # a 12 x 12 map at 96 px
        out_indices=(1, 2, 3, 4),
        out_format='tuple',
    ),
    text_encoder=dict(
        type='MultiViewPromptTextEncoder',
        text_encoder=dict(
            type='OpenCLIPTextEncoder', preset='timm-resnet-scenes-tiny', pretrained=clip_weights
        ),
        checkpoint=teacher_checkpoint,
        num_prompts=3,
        n_ctx=8,
    ),
    decode_head=dict(
        type='TextClassifierASPPHead',
        in_channels=96,  # the tower's last stage
        in_index=3,
        channels=64,
        dilations=(1, 2, 4, 6),  # a 12 x 12 map: the ViT-scale rates (6, 12, 18) would see padding
        embed_dims=128,  # the tiny CLIP's text space
        logit_scale=50.0,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'),
)
train_dataloader = dict(
    batch_size=16,
    dataset=dict(split='pretrain', unlabelled_unseen=True, indices=2000),
)
custom_hooks = [
    dict(type='VocabularyHook', inductive=False),  # transductive: unseen names in training
    dict(
        type='PseudoLabelHook',
        teacher_config=teacher_config,
        teacher_checkpoint=teacher_checkpoint,
        switch_iter=switch_iter,
    ),
]
# The scenes' AdamW (schedule base), without warm-up: mmseg's DeepLab SGD (lr 0.01) collapsed to
# background everywhere from scratch (docs/experiments/mvp_seg_scenes.md).
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
randomness = dict(seed=0)
