# Reuse (issue 19): mmpat's frozen CLIP image tower as a backbone of a plain mmseg model. mmseg's
# EncoderDecoder + CLIPPyramid(out_format='tuple') + mmseg's FCNHead, a fixed 150-class
# classifier trained on ADE20K-150 (ordinary closed-vocabulary training, no text encoder).
# out_format='tuple' makes CLIPPyramid return its pyramid maps as a tuple (blocks 3, 6, 9, 12 of
# CLIP ViT-B/16, 768 channels each, stride 16), which mmseg heads index with in_index; any mmseg
# head works the same way (UPerHead: in_index=(0, 1, 2, 3), in_channels=[768] * 4). No auxiliary
# head (our choice: it supervises the backbone, and the CLIP tower stays frozen). 512x512 crops,
# 80k iterations, AdamW (lr 1e-4, weight decay 0.01), poly schedule, 4 GPUs x 4 images.
#
# CLIP weights: a local file (clip_weights below) at checkpoints/clip/ViT-B-16.pt relative to the
# folder the tools run in: OpenAI's ViT-B-16.pt as released, or another CLIP file (open_clip
# .bin/.safetensors, Hugging Face) converted with
#   python tools/model_converters/clip2mmpat.py SRC checkpoints/clip/ViT-B-16.pt
# Another place: --cfg-options model.backbone.pretrained=PATH
# Data: data/ade/ADEChallengeData2016 (mmseg layout, configs/_base_/datasets/ade20k_150_train.py).
#
# Train (1 GPU / CPU; the schedule is for 4 GPUs; SyncBN becomes BN without distribution):
#   python tools/train.py configs/reuse/fcn_clip-pyramid-vit-b16_ade20k-150.py
# Train on 4 GPUs (this config's setting: 4 GPUs x 4 images = batch 16):
#   bash tools/dist_train.sh configs/reuse/fcn_clip-pyramid-vit-b16_ade20k-150.py 4
# Test on A-150 (slide inference, 512 crops):
#   python tools/test.py configs/reuse/fcn_clip-pyramid-vit-b16_ade20k-150.py \
#       work_dirs/fcn_clip-pyramid-vit-b16_ade20k-150/iter_80000.pth
_base_ = [
    '../_base_/datasets/ade20k_150_train.py',
    '../_base_/schedules/schedule_80k.py',
    '../_base_/default_runtime.py',
]
clip_weights = 'checkpoints/clip/ViT-B-16.pt'
crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.771, 116.746, 104.094],  # CLIP's normalisation
    std=[68.501, 66.632, 70.323],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size,
)
model = dict(
    type='EncoderDecoder',  # mmseg's own segmentor
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='CLIPPyramid',
        preset='ViT-B-16',
        pretrained=clip_weights,
        out_indices=(3, 6, 9, 12),
        out_format='tuple',  # mmseg heads index a tuple of maps
    ),
    decode_head=dict(
        type='FCNHead',
        in_channels=768,  # CLIP ViT-B/16 width (backbone.out_channels)
        in_index=3,  # block 12
        channels=512,
        num_convs=2,
        concat_input=True,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)),
)
train_dataloader = dict(batch_size=4)  # per GPU
# The lr (1e-4, configs/_base_/schedules/schedule_80k.py) is for a total batch of 16.
auto_scale_lr = dict(enable=False, base_batch_size=16)
randomness = dict(seed=0)
