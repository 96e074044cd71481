# The scenes VLM ('timm-resnet-scenes-tiny': timm's tiny test ResNet with global max pooling as
# the image tower, open_clip's text transformer), the frozen CLIP of the offline benchmark.
# Trained on the tags of the pretrain images (their objects' names; every class, as real CLIP
# saw the web: the seen/unseen split governs the pixel-level training only) with the
# multi-positive contrastive loss, the text tower kept at its seeded random init
# (docs/experiments/scenes_clip.md). CPU-sized: about 0.45 s/iteration with OMP_NUM_THREADS=1.
#   python tools/dataset_converters/gen_scenes.py --out data/scenes
#   OMP_NUM_THREADS=1 python tools/train.py configs/clip/clip-tiny_scenes.py
#   python tools/analysis/clip_zeroshot_cls.py work_dirs/clip-tiny_scenes/clip_tiny.pth \
#       --data data/scenes
# OMP_NUM_THREADS=1 matters on a busy machine: with more OpenMP threads than free cores, torch's
# threads wait for each other and a step was measured 10-20x slower.
# The hook writes work_dirs/clip-tiny_scenes/clip_tiny.pth (open_clip state dict) and
# clip_tiny.json (its preset), also every 200 iterations.
_base_ = [
    '../_base_/models/clip-tiny.py',
    '../_base_/datasets/scenes_captions.py',
    '../_base_/default_runtime.py',
]

# Label-preserving augmentation only: flips keep every shape's name and every colour (colour
# words are the attribute to learn, so no hue/saturation jitter).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackImageCaption', mode='random'),
]
train_dataloader = dict(batch_size=64, num_workers=1, dataset=dict(pipeline=train_pipeline))

max_iters = 2700
warmup_iters = 50
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1, fused=True
    ),
    # No decay on norms, biases, embeddings and the temperature (as CLIP).
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'logit_scale': dict(decay_mult=0.0),
            'positional_embedding': dict(decay_mult=0.0),
            'class_embedding': dict(decay_mult=0.0),
            'token_embedding': dict(decay_mult=0.0),
        },
    ),
    clip_grad=dict(max_norm=1.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters,
        T_max=max_iters - warmup_iters,
    ),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
custom_hooks = [dict(type='ExportCLIPHook', filename='clip_tiny.pth', interval=200)]
randomness = dict(seed=0)
work_dir = './work_dirs/clip-tiny_scenes'
