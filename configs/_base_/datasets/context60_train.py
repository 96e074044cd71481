# Context-60 training: PASCAL Context train (4,998 images), background + 59 classes (labels
# 0..59, ignore 255), evaluated on PASCAL Context val (configs/_base_/datasets/context60.py,
# inherited: all 60 classes, but with mmseg's Context test resize, see below, not the base's
# short side 448). This is MVP-SEG's / MaskCLIP+'s PASCAL Context protocol (59 classes +
# background, background a seen class, the 10 unseen classes of
# UNSEEN_CLASSES['pascal_context59']), not GroupViT's background threshold.
# mmseg's recipe (mmseg configs/_base_/datasets/pascal_context.py): RandomResize of (520, 520) x
# [0.5, 2], 480x480 crops, flip, photometric distortion, 4 images per GPU; test Resize (520, 520)
# keep ratio (configs test with slide inference, 480 crops, stride 320).
# Data: mmseg layout under data/VOCdevkit/VOC2010 (mmseg docs, dataset_prepare.md "Pascal
# Context"): SegmentationClassContext/ and ImageSets/SegmentationContext/{train,val}.txt.
# The zero-shot configs set vocabulary='seen' (inductive) or unlabelled_unseen=True
# (transductive).
_base_ = ['./context60.py']
# The same names as the base (mmengine configs do not see a base's variables).
dataset_type = 'PascalContext60Dataset'
data_root = 'data/VOCdevkit/VOC2010'
ignore_index = 255
train_scale = (520, 520)
crop_size = (480, 480)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=train_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
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
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/train.txt',
        ignore_index=ignore_index,
        pipeline=train_pipeline,
    ),
)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=train_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),  # after Resize: the ground truth keeps its size
    dict(type='PackSegInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
