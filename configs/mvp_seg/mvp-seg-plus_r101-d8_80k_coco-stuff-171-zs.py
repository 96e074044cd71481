# MVP-SEG+ (docs/methods/mvp_seg.md): transductive zero-shot on COCO-Stuff-171.
# A DeepLabV3 (TextClassifierASPPHead) student on an ImageNet ResNet-101 (mmseg's ResNetV1c,
# dilated, output stride 8, SyncBN) whose classifier is the frozen multi-view prompts of a trained
# MVP-SEG model (MultiViewPromptTextEncoder: the sum of the k=3 prompt embeddings of each class).
# Training set: COCO-Stuff-164k train2017 (118k images; 171 classes), with every class in the
# vocabulary but the pixels of the unseen classes unlabelled (unlabelled_unseen=True; unseen: cow,
# giraffe, suitcase, frisbee, skateboard, carrot, scissors, cardboard, clouds, grass, playingfield,
# river, road, tree, wall-concrete). PseudoLabelHook labels them with the unseen class the MVP-SEG
# teacher (mvp-seg_vit-b16_80k_coco-stuff-171-zs.py) scores highest for the first 8000 iterations,
# then with the student's own predictions (self-training). Evaluation on all classes of the val
# split (mIoU, mIoU_seen / mIoU_unseen / hIoU). The paper names DeepLabv2-R101 for
# VOC and COCO-Stuff; our choice is mmseg's DeepLabV3 (ASPP, dilations 1/12/24/36) on the same
# dilated ResNet-101 (mmseg has no v2 head). 512x512 crops, 80k iterations, 4 GPUs x 4 images (the
# MaskCLIP+ schedule the paper follows). SGD lr 0.01, momentum 0.9, weight decay 0.0005, poly decay
# (power 0.9, down to 1e-4), no warm-up: mmseg's DeepLab defaults
# (configs/_base_/schedules/schedule_*k.py of mmseg). No auxiliary FCN head (our choice: its
# classifier would be a fixed-size learned one).
#
# Weights files (local; nothing is downloaded), relative to the folder the tools run in:
# - checkpoints/clip/ViT-B-16.pt: the CLIP weights of the teacher (its text tower encodes the
#   prompts here): OpenAI's ViT-B-16.pt, or another CLIP file converted with
#     python tools/model_converters/clip2mmpat.py SRC checkpoints/clip/ViT-B-16.pt
# - work_dirs/mvp-seg_vit-b16_80k_coco-stuff-171-zs/iter_80000.pth:
#   the trained MVP-SEG model, made by
#     python tools/train.py configs/mvp_seg/mvp-seg_vit-b16_80k_coco-stuff-171-zs.py
#   (the prompts of the student's classifier and the teacher of PseudoLabelHook).
# - checkpoints/resnet101_v1c.pth: ImageNet ResNet-101-v1c weights for the backbone (mmcv's
#   open-mmlab://resnet101_v1c, i.e. resnet101_v1c-e67eebb6.pth of download.openmmlab.com;
#   fetch it yourself and save it under this name). Without it the backbone starts random
#   (set model.backbone.init_cfg=None) and the results are far below the paper's.
# Data: data/coco_stuff164k, mmseg layout (configs/_base_/datasets/coco_stuff171_train.py).
#
# Train (1 GPU / CPU; the schedule is for 4 GPUs; SyncBN becomes BN without distribution):
#   python tools/train.py configs/mvp_seg/mvp-seg-plus_r101-d8_80k_coco-stuff-171-zs.py
# Train on 4 GPUs (this config's setting: 4 GPUs x 4 images = batch 16):
#   bash tools/dist_train.sh configs/mvp_seg/mvp-seg-plus_r101-d8_80k_coco-stuff-171-zs.py 4
# Test on COCO-Stuff-171 val2017 (whole-image inference, short side 512):
#   python tools/test.py configs/mvp_seg/mvp-seg-plus_r101-d8_80k_coco-stuff-171-zs.py \
#       work_dirs/mvp-seg-plus_r101-d8_80k_coco-stuff-171-zs/iter_80000.pth
_base_ = [
    '../_base_/models/mvp-seg-plus_r101-d8.py',
    '../_base_/datasets/coco_stuff171_train.py',
    '../_base_/schedules/schedule_80k.py',
    '../_base_/default_runtime.py',
]
teacher_config = 'configs/mvp_seg/mvp-seg_vit-b16_80k_coco-stuff-171-zs.py'
teacher_checkpoint = 'work_dirs/mvp-seg_vit-b16_80k_coco-stuff-171-zs/iter_80000.pth'
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size), text_encoder=dict(checkpoint=teacher_checkpoint)
)
# Transductive: every class in the vocabulary, the unseen pixels unlabelled (ignore_index).
train_dataloader = dict(batch_size=4, dataset=dict(unlabelled_unseen=True))  # 4 per GPU
custom_hooks = [
    dict(type='VocabularyHook', inductive=False),
    dict(
        type='PseudoLabelHook',
        teacher_config=teacher_config,
        teacher_checkpoint=teacher_checkpoint,
        switch_iter=8000,  # teacher labels for iterations < 8000, then self-training
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
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=80000, by_epoch=False),
]
