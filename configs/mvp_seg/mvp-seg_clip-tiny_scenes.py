# MVP-SEG on the generated scenes with the tiny scenes CLIP (configs/clip/clip-tiny_scenes.py; the
# main job `make demo` pretrains it). Inductive zero-shot: the prompts learn on the seen classes of
# `train`, evaluation on every class of `val` (mIoU / seen / unseen / hIoU).
#   python tools/train.py configs/mvp_seg/mvp-seg_clip-tiny_scenes.py
# Ablations (same seed and schedule): mvp-seg_clip-tiny_scenes_{k1,no-oc,no-gpr}.py.
_base_ = [
    '../_base_/models/mvp-seg_vit-b16.py',
    '../_base_/datasets/scenes.py',
    '../_base_/default_runtime.py',
]
clip_weights = 'work_dirs/clip-tiny_scenes/clip_tiny.pth'
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    backbone=dict(preset='ViT-scenes-tiny', pretrained=clip_weights, out_indices=(4,)),
    text_encoder=dict(preset='ViT-scenes-tiny', pretrained=clip_weights),
    test_cfg=dict(mode='whole'),
)
train_dataloader = dict(batch_size=16, dataset=dict(vocabulary='seen'))
max_iters = 1000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
)
randomness = dict(seed=0)
