# Training-free dense-CLIP (MaskCLIP) zero-shot segmentation of the generated scenes with the tiny
# ViT CLIP of configs/clip/clip-vit-tiny_scenes.py: the base of the ViT-only training-free
# variants (SCLIP, ClearCLIP, NACLIP). The main job's dense-CLIP row uses the scenes VLM
# (dense-clip_clip-tiny_scenes.py).
_base_ = [
    '../_base_/models/dense-clip_vit-b16.py',
    '../_base_/datasets/scenes.py',
    '../_base_/default_runtime.py',
]
clip_weights = 'work_dirs/clip-vit-tiny_scenes/clip_tiny.pth'
model = dict(
    backbone=dict(preset='ViT-scenes-tiny', pretrained=clip_weights, out_indices=(1, 2, 3, 4)),
    text_encoder=dict(
        preset='ViT-scenes-tiny',
        pretrained=clip_weights,
        templates='simple',  # the prompt the tiny CLIP's zero-shot accuracy is measured with
        cache_dir=None,
    ),
    test_cfg=dict(mode='whole'),
)
train_dataloader = None  # training-free
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    visualization=dict(type='SegVisualizationHook'),
)
