# VOC-20 training: PASCAL VOC 2012 "train aug" (10,582 images: VOC train + SBD), 20 classes,
# background ignored (PascalVOC20Dataset: reduce_zero_label, label 0 and 255 -> 255), evaluated on
# VOC 2012 val (configs/_base_/datasets/voc20.py, inherited: all 20 classes, seen/unseen/hIoU).
# mmseg's recipe (mmseg configs/_base_/datasets/pascal_voc12_aug.py): RandomResize of
# (2048, 512) x [0.5, 2], 512x512 crops, flip, photometric distortion, 4 images per GPU.
# Data: mmseg layout under data/VOCdevkit/VOC2012 with the aug set (mmseg docs,
# dataset_prepare.md "Pascal VOC"): mmseg's tools/dataset_converters/voc_aug.py (in the mmseg
# repository, not in the pip package) converts SBD's labels into SegmentationClassAug/ and writes
# ImageSets/Segmentation/aug.txt (SBD train+val minus VOC train and val: 9,118 images). The
# training set is VOC train (SegmentationClass, 1,464) + aug (SegmentationClassAug), as in mmseg.
# Without SBD, train on VOC train only: in the derived config
#   train_dataloader = dict(dataset=dict(datasets=[dict(_base_.voc_train, vocabulary='seen')]))
# The zero-shot configs set vocabulary='seen' (inductive) or unlabelled_unseen=True
# (transductive) on both parts (PascalVOC20Dataset carries the VOC split), e.g.
#   datasets=[dict(_base_.voc_train, vocabulary='seen'), dict(_base_.voc_aug, vocabulary='seen')]
_base_ = ['./voc20.py']
# The same names as the base (mmengine configs do not see a base's variables).
dataset_type = 'PascalVOC20Dataset'
data_root = 'data/VOCdevkit/VOC2012'
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
voc_train = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    ann_file='ImageSets/Segmentation/train.txt',
    ignore_index=ignore_index,
    pipeline=train_pipeline,
)
voc_aug = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
    ann_file='ImageSets/Segmentation/aug.txt',
    ignore_index=ignore_index,
    pipeline=train_pipeline,
)
train_dataloader = dict(
    batch_size=4,  # per GPU
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='ConcatDataset', datasets=[voc_train, voc_aug]),
)
# The 15/5 zero-shot protocol (MaskCLIP+, MVP-SEG) is scored with mmseg's averaging, not the
# detectron2 averaging of the open-vocabulary VOC-20 numbers (the evaluation base's 'present').
val_evaluator = dict(average='all')
test_evaluator = val_evaluator
