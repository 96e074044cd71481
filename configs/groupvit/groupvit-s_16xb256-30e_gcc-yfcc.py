# GroupViT-S trained from image-caption pairs: the paper's recipe (Xu et al., CVPR 2022;
# docs/methods/groupvit.md, "Training"): the image-text contrastive loss plus the multi-label
# loss over K = 3 noun prompts per caption (the GCC+YFCC model; K = 0 for GCC+RedCaps), 224 px
# crops, batch 4096 (16 GPUs x 256), 30 epochs with 2 of warm-up, AdamW (wd 0.05, none on 1-D
# parameters and biases), lr 1.6e-3 cosine to 4e-5, gradient clipping 5.0. Zero-shot validation
# on PASCAL VOC (VOC-21) after each epoch.
# Data: image-caption pairs as jsonl, one {"image": ..., "caption(s)": ...} per line
# (ImageCaptionDataset), under data/gcc-yfcc/. Not run here (no GPUs, no web data).
#   bash tools/dist_train.sh configs/groupvit/groupvit-s_16xb256-30e_gcc-yfcc.py 16
_base_ = [
    '../_base_/datasets/voc21.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='GroupViTPretrain',
    arch='GroupViT-S',
    num_prompts=3,
    prompt_templates='imagenet',
    templates=['a photo of a {}.'],
    bg_thresh=0.95,
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet mean/std, as GroupViT's
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=(224, 224),  # the training crops
        pad_val=0,
        seg_pad_val=255,
    ),
    # the zero-shot protocol's inference (docs/methods/groupvit.md): 448 px crops, stride 224
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224)),
)
# The paper's augmentations (timm's ImageNet recipe): random resized crop, flip, colour jitter
# 0.4, RandAugment magnitude 9, random erasing with probability 0.25.
caption_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TorchVisionImage',
        transforms=[
            dict(type='RandomResizedCrop', size=224, scale=(0.08, 1.0), antialias=True),
            dict(type='RandomHorizontalFlip'),
            dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
            dict(type='RandAugment', num_ops=2, magnitude=9),
            dict(type='RandomErasing', p=0.25),
        ],
    ),
    dict(type='PackImageCaption', mode='random'),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=256,  # per GPU; 16 GPUs give the paper's 4096
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ImageCaptionDataset',
        data_root='data/gcc-yfcc',
        ann_file='captions.jsonl',
        check_files=False,  # millions of images: checked when loaded instead
        pipeline=caption_pipeline,
    ),
)
max_epochs = 30
warmup_epochs = 2
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.6e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0),
)
# lr 1.6e-3 is for 4096 pairs per step; --auto-scale-lr scales it to the actual batch.
auto_scale_lr = dict(enable=False, base_batch_size=4096)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True,
    ),
    dict(
        type='CosineAnnealingLR',
        eta_min=4e-5,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        T_max=max_epochs - warmup_epochs,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
custom_hooks = [dict(type='EvalVocabularyHook')]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
)
