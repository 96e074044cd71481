# A-150 training: ADE20K SceneParsing (ADEChallengeData2016), train on `training`, evaluate on
# `validation`, 150 classes. Data: mmseg layout (see mmseg docs, dataset_prepare.md "ADE20K").
# mmseg's standard ADE20K recipe (configs/_base_/datasets/ade20k.py of mmseg) on mmpat's
# ADE20K150Dataset (mmseg's ADE20KDataset with stripped class names, so the text encoder gets
# "bed", not "bed "). The dataset fixes reduce_zero_label=True (label 0 "other" -> 255, ids
# 1..150 -> 0..149) and hands it to LoadAnnotations, for training as for validation; so the
# loaders do not repeat it (mmseg deprecates LoadAnnotations(reduce_zero_label=...)).
# Validation is configs/_base_/datasets/ade20k_150.py's (the A-150 zero-shot benchmark), inherited.
_base_ = ['./ade20k_150.py']
# The same names as the base (mmengine configs do not see a base's variables).
dataset_type = 'ADE20K150Dataset'
data_root = 'data/ade/ADEChallengeData2016'
img_scale = (2048, 512)
ignore_index = 255
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # reduce_zero_label from the dataset (True)
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75, ignore_index=ignore_index),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,  # per GPU
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        ignore_index=ignore_index,
        pipeline=train_pipeline,
    ),
)
