# PAT on the generated scenes with the tiny scenes CLIP (configs/clip/clip-tiny_scenes.py; the
# main job `make demo` pretrains it). Inductive zero-shot: trained on the seen classes of
# `train`, evaluated on every class of `val` (mIoU / seen / unseen / hIoU).
#   python tools/train.py configs/pat/pat_clip-tiny_scenes.py
_base_ = [
    '../_base_/models/pat_vit-b16.py',
    '../_base_/datasets/scenes.py',
    '../_base_/schedules/schedule_scenes_1k.py',
    '../_base_/default_runtime.py',
]
clip_weights = 'work_dirs/clip-tiny_scenes/clip_tiny.pth'
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    # The scenes VLM is a timm ResNet: its four stages already are the strides 4-32 pyramid, so
    # no rescaling (the ViT presets rescale one stride-16 map by 4, 2, 1, 0.5).
    backbone=dict(
        preset='timm-resnet-scenes-tiny', pretrained=clip_weights, out_indices=(1, 2, 3, 4)
    ),
    text_encoder=dict(
        preset='timm-resnet-scenes-tiny',
        pretrained=clip_weights,
        templates='simple',
        cache_dir=None,
    ),
    neck=dict(
        in_channels=[32, 48, 192, 96],
        rescales=(1, 1, 1, 1),
        codebook_sizes=[256, 128, 64, 32],  # smaller codebooks for 31 classes and 96 px images
        code_dim=32,
        decoder=dict(channels=64),
    ),
    decode_head=dict(
        pyramid_channels=[32, 48, 192, 96],
        rescales=(1, 1, 1, 1),
        embed_dims=128,
        channels=64,
        token_channels=64,
    ),
    auxiliary_head=dict(in_channels=64, channels=32),
    test_cfg=dict(mode='whole'),
)
train_dataloader = dict(batch_size=16, dataset=dict(vocabulary='seen'))
randomness = dict(seed=0)
