# COCO-Stuff-171 training: COCO-Stuff-164k train2017 (118k images), 171 classes (ignore 255),
# evaluated on val2017 (configs/_base_/datasets/coco_stuff171.py, inherited: all 171 classes).
# mmseg's recipe (mmseg configs/_base_/datasets/coco-stuff164k.py): RandomResize of (2048, 512) x
# [0.5, 2], 512x512 crops, flip, photometric distortion, 4 images per GPU.
# Data: mmseg layout under data/coco_stuff164k (mmseg docs, dataset_prepare.md "COCO Stuff
# 164k"): images/{train,val}2017/*.jpg and annotations/{train,val}2017/*_labelTrainIds.png.
# The zero-shot configs set vocabulary='seen' (inductive) or unlabelled_unseen=True
# (transductive).
_base_ = ['./coco_stuff171.py']
# The same names as the base (mmengine configs do not see a base's variables).
dataset_type = 'COCOStuff171Dataset'
data_root = 'data/coco_stuff164k'
img_scale = (2048, 512)
ignore_index = 255
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
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
        data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'),
        ignore_index=ignore_index,
        pipeline=train_pipeline,
    ),
)
