# MVP-SEG+ (docs/methods/mvp_seg.md): transductive zero-shot on PASCAL Context
# (59 classes + background, Context-60). A DeepLabV3+ (TextClassifierSepASPPHead) student on an
# ImageNet ResNet-101 (mmseg's ResNetV1c, dilated, output stride 8, SyncBN) whose classifier is the
# frozen multi-view prompts of a trained MVP-SEG model (MultiViewPromptTextEncoder: the sum of the
# k=3 prompt embeddings of each class). Training set: PASCAL Context train (4,998 images; background
# + 59 classes), with every class in the vocabulary but the pixels of the unseen classes unlabelled
# (unlabelled_unseen=True; unseen: cow, motorbike, sofa, cat, boat, fence, bird, tv monitor,
# keyboard, aeroplane). PseudoLabelHook labels them with the unseen class the MVP-SEG teacher
# (mvp-seg_vit-b16_40k_pascal-context-60-zs.py) scores highest for the first 4000 iterations, then
# with the student's own predictions (self-training). Evaluation on all classes of the val split
# (mIoU, mIoU_seen / mIoU_unseen / hIoU). DeepLabV3+-R101 as in the paper for
# Context. 480x480 crops, 40k iterations, 4 GPUs x 4 images (the MaskCLIP+ schedule the paper
# follows). SGD lr 0.004, momentum 0.9, weight decay 0.0001, poly decay (power 0.9, down to 1e-4),
# no warm-up: mmseg's DeepLab settings for PASCAL Context (also MaskCLIP+'s Context config; mmseg's
# VOC / COCO-Stuff default is lr 0.01, weight decay 5e-4). No auxiliary FCN head (our choice: its
# classifier would be a fixed-size learned one).
#
# Weights files (local; nothing is downloaded), relative to the folder the tools run in:
# - checkpoints/clip/ViT-B-16.pt: the CLIP weights of the teacher (its text tower encodes the
#   prompts here): OpenAI's ViT-B-16.pt, or another CLIP file converted with
#     python tools/model_converters/clip2mmpat.py SRC checkpoints/clip/ViT-B-16.pt
# - work_dirs/mvp-seg_vit-b16_40k_pascal-context-60-zs/iter_40000.pth:
#   the trained MVP-SEG model, made by
#     python tools/train.py configs/mvp_seg/mvp-seg_vit-b16_40k_pascal-context-60-zs.py
#   (the prompts of the student's classifier and the teacher of PseudoLabelHook).
# - checkpoints/resnet101_v1c.pth: ImageNet ResNet-101-v1c weights for the backbone (mmcv's
#   open-mmlab://resnet101_v1c, i.e. resnet101_v1c-e67eebb6.pth of download.openmmlab.com;
#   fetch it yourself and save it under this name). Without it the backbone starts random
#   (set model.backbone.init_cfg=None) and the results are far below the paper's.
# Data: data/VOCdevkit/VOC2010, mmseg layout (configs/_base_/datasets/context60_train.py).
#
# Train (1 GPU / CPU; the schedule is for 4 GPUs; SyncBN becomes BN without distribution):
#   python tools/train.py configs/mvp_seg/mvp-seg-plus_r101-d8_40k_pascal-context-60-zs.py
# Train on 4 GPUs (this config's setting: 4 GPUs x 4 images = batch 16):
#   bash tools/dist_train.sh configs/mvp_seg/mvp-seg-plus_r101-d8_40k_pascal-context-60-zs.py 4
# Test on PASCAL Context val (images fit in 520x520; slide inference, 480 crops, stride 320):
#   python tools/test.py configs/mvp_seg/mvp-seg-plus_r101-d8_40k_pascal-context-60-zs.py \
#       work_dirs/mvp-seg-plus_r101-d8_40k_pascal-context-60-zs/iter_40000.pth
_base_ = [
    '../_base_/models/mvp-seg-plus_r101-d8.py',
    '../_base_/datasets/context60_train.py',
    '../_base_/schedules/schedule_40k.py',
    '../_base_/default_runtime.py',
]
teacher_config = 'configs/mvp_seg/mvp-seg_vit-b16_40k_pascal-context-60-zs.py'
teacher_checkpoint = 'work_dirs/mvp-seg_vit-b16_40k_pascal-context-60-zs/iter_40000.pth'
crop_size = (480, 480)
model = dict(
    data_preprocessor=dict(size=crop_size),
    text_encoder=dict(checkpoint=teacher_checkpoint),
    decode_head=dict(type='TextClassifierSepASPPHead', c1_in_channels=256, c1_channels=48),
    # mmseg's Context setting: slide inference, 480 crops, stride 320.
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)),
)
# Transductive: every class in the vocabulary, the unseen pixels unlabelled (ignore_index).
train_dataloader = dict(batch_size=4, dataset=dict(unlabelled_unseen=True))  # 4 per GPU
custom_hooks = [
    dict(type='VocabularyHook', inductive=False),
    dict(
        type='PseudoLabelHook',
        teacher_config=teacher_config,
        teacher_checkpoint=teacher_checkpoint,
        switch_iter=4000,  # teacher labels for iterations < 4000, then self-training
    ),
]
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.004, momentum=0.9, weight_decay=0.0001),
    clip_grad=None,
)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=40000, by_epoch=False),
]
