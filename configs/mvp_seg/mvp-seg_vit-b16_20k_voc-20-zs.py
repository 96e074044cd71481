# MVP-SEG (multi-view prompt learning, docs/methods/mvp_seg.md) on a frozen CLIP ViT-B/16,
# inductive zero-shot on VOC-20: the k=3 segmentation prompts and the global prompt learn on the
# 15 seen classes of VOC 2012 train aug (vocabulary='seen': the 5 unseen classes, potted plant,
# sheep, sofa, train, tv monitor, are not in the vocabulary and their pixels are ignored);
# evaluation on VOC 2012 val with all 20 classes (mIoU, mIoU_seen / mIoU_unseen / hIoU).
# 512x512 crops, 20k iterations, 4 GPUs x 4 images. Our choices (the paper trains the prompts
# CoOp-style): AdamW lr 2e-3, weight decay 0 (only prompts and temperatures train), 1500-iteration
# linear warm-up then poly decay (configs/_base_/schedules/schedule_20k.py).
# This model is also the teacher of MVP-SEG+: mvp-seg-plus_r101-d8_20k_voc-20-zs.py.
#
# CLIP weights: a local file, named once below (clip_weights), for the image and the text tower,
# at checkpoints/clip/ViT-B-16.pt relative to the folder the tools run in: OpenAI's ViT-B-16.pt
# as released, or another CLIP file (open_clip .bin/.safetensors, Hugging Face) converted with
#   python tools/model_converters/clip2mmpat.py SRC checkpoints/clip/ViT-B-16.pt
# Data: data/VOCdevkit/VOC2012, mmseg layout with the SBD aug set (VOC train + aug, 10,582
# images; configs/_base_/datasets/voc20_train.py says how to make it and how to do without).
#
# Train (1 GPU / CPU; the schedule is for 4 GPUs):
#   python tools/train.py configs/mvp_seg/mvp-seg_vit-b16_20k_voc-20-zs.py
# Train on 4 GPUs (this config's setting: 4 GPUs x 4 images = batch 16):
#   bash tools/dist_train.sh configs/mvp_seg/mvp-seg_vit-b16_20k_voc-20-zs.py 4
# Test on VOC-20 val (slide inference, 512 crops, short side 512):
#   python tools/test.py configs/mvp_seg/mvp-seg_vit-b16_20k_voc-20-zs.py \
#       work_dirs/mvp-seg_vit-b16_20k_voc-20-zs/iter_20000.pth
_base_ = [
    '../_base_/models/mvp-seg_vit-b16.py',
    '../_base_/datasets/voc20_train.py',
    '../_base_/schedules/schedule_20k.py',
    '../_base_/default_runtime.py',
]
clip_weights = 'checkpoints/clip/ViT-B-16.pt'
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(preset='ViT-B-16', pretrained=clip_weights),
    text_encoder=dict(preset='ViT-B-16', pretrained=clip_weights),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)),
)
# Inductive: the seen vocabulary on both parts of train aug (VocabularyHook(inductive=True) of
# the model base refuses a training vocabulary naming an unseen class).
train_dataloader = dict(
    batch_size=4,  # per GPU
    dataset=dict(
        datasets=[
            dict(_base_.voc_train, vocabulary='seen'),
            dict(_base_.voc_aug, vocabulary='seen'),
        ]
    ),
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.0),
    clip_grad=None,
)
# The lr is for a total batch of 16 (4 GPUs x 4 images); enable=True rescales it linearly.
auto_scale_lr = dict(enable=False, base_batch_size=16)
randomness = dict(seed=0)
