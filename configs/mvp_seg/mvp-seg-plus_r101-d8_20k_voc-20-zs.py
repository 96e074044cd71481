# MVP-SEG+ (docs/methods/mvp_seg.md): transductive zero-shot on VOC-20. A
# DeepLabV3 (TextClassifierASPPHead) student on an ImageNet ResNet-101 (mmseg's ResNetV1c, dilated,
# output stride 8, SyncBN) whose classifier is the frozen multi-view prompts of a trained MVP-SEG
# model (MultiViewPromptTextEncoder: the sum of the k=3 prompt embeddings of each class). Training
# set: VOC 2012 train aug (VOC train + SBD, 10,582 images; 20 classes, background ignored), with
# every class in the vocabulary but the pixels of the unseen classes unlabelled
# (unlabelled_unseen=True; unseen: potted plant, sheep, sofa, train, tv monitor). PseudoLabelHook
# labels them with the unseen class the MVP-SEG teacher (mvp-seg_vit-b16_20k_voc-20-zs.py) scores
# highest for the first 2000 iterations, then with the student's own predictions (self-training).
# Evaluation on all classes of the val split (mIoU, mIoU_seen / mIoU_unseen / hIoU). The paper
# names DeepLabv2-R101 for VOC and COCO-Stuff; our choice is mmseg's DeepLabV3
# (ASPP, dilations 1/12/24/36) on the same dilated ResNet-101 (mmseg has no v2 head). 512x512 crops,
# 20k iterations, 4 GPUs x 4 images (the MaskCLIP+ schedule the paper follows). SGD lr 0.01,
# momentum 0.9, weight decay 0.0005, poly decay (power 0.9, down to 1e-4), no warm-up: mmseg's
# DeepLab defaults (configs/_base_/schedules/schedule_*k.py of mmseg). No auxiliary FCN head (our
# choice: its classifier would be a fixed-size learned one).
#
# Weights files (local; nothing is downloaded), relative to the folder the tools run in:
# - checkpoints/clip/ViT-B-16.pt: the CLIP weights of the teacher (its text tower encodes the
#   prompts here): OpenAI's ViT-B-16.pt, or another CLIP file converted with
#     python tools/model_converters/clip2mmpat.py SRC checkpoints/clip/ViT-B-16.pt
# - work_dirs/mvp-seg_vit-b16_20k_voc-20-zs/iter_20000.pth:
#   the trained MVP-SEG model, made by
#     python tools/train.py configs/mvp_seg/mvp-seg_vit-b16_20k_voc-20-zs.py
#   (the prompts of the student's classifier and the teacher of PseudoLabelHook).
# - checkpoints/resnet101_v1c.pth: ImageNet ResNet-101-v1c weights for the backbone (mmcv's
#   open-mmlab://resnet101_v1c, i.e. resnet101_v1c-e67eebb6.pth of download.openmmlab.com;
#   fetch it yourself and save it under this name). Without it the backbone starts random
#   (set model.backbone.init_cfg=None) and the results are far below the paper's.
# Data: data/VOCdevkit/VOC2012, mmseg layout with the SBD aug set
# (configs/_base_/datasets/voc20_train.py says how to make it and how to do without).
#
# Train (1 GPU / CPU; the schedule is for 4 GPUs; SyncBN becomes BN without distribution):
#   python tools/train.py configs/mvp_seg/mvp-seg-plus_r101-d8_20k_voc-20-zs.py
# Train on 4 GPUs (this config's setting: 4 GPUs x 4 images = batch 16):
#   bash tools/dist_train.sh configs/mvp_seg/mvp-seg-plus_r101-d8_20k_voc-20-zs.py 4
# Test on VOC-20 val (whole-image inference, short side 512):
#   python tools/test.py configs/mvp_seg/mvp-seg-plus_r101-d8_20k_voc-20-zs.py \
#       work_dirs/mvp-seg-plus_r101-d8_20k_voc-20-zs/iter_20000.pth
_base_ = [
    '../_base_/datasets/voc20_train.py',
    '../_base_/schedules/schedule_20k.py',
    '../_base_/default_runtime.py',
]
clip_weights = 'checkpoints/clip/ViT-B-16.pt'
teacher_config = 'configs/mvp_seg/mvp-seg_vit-b16_20k_voc-20-zs.py'
teacher_checkpoint = 'work_dirs/mvp-seg_vit-b16_20k_voc-20-zs/iter_20000.pth'
resnet_weights = 'checkpoints/resnet101_v1c.pth'
crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],  # ImageNet normalisation (the ResNet's)
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size,
)
model = dict(
    type='OpenVocabEncoderDecoder',
    data_preprocessor=data_preprocessor,
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
        checkpoint=teacher_checkpoint,
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
# Transductive: every class in the vocabulary, the unseen pixels unlabelled (ignore_index).
train_dataloader = dict(
    batch_size=4,  # per GPU
    dataset=dict(
        datasets=[
            dict(_base_.voc_train, unlabelled_unseen=True),
            dict(_base_.voc_aug, unlabelled_unseen=True),
        ]
    ),
)
custom_hooks = [
    dict(type='VocabularyHook', inductive=False),
    dict(
        type='PseudoLabelHook',
        teacher_config=teacher_config,
        teacher_checkpoint=teacher_checkpoint,
        switch_iter=2000,  # teacher labels for iterations < 2000, then self-training
        # unlabelled pixels that are not unseen objects (VOC: background and boundaries;
        # COCO-Stuff: unlabelled areas) stay ignored unless an unseen class wins there
        only_where_unseen_wins=True,
    ),
]
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005),
    clip_grad=None,
)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=20000, by_epoch=False),
]
# The lr is for a total batch of 16 (4 GPUs x 4 images); enable=True rescales it linearly.
auto_scale_lr = dict(enable=False, base_batch_size=16)
randomness = dict(seed=0)
