# VOC-20: PASCAL VOC 2012 val, 20 classes, background ignored.
# Data: mmseg layout (dataset_prepare.md "Pascal VOC"). Carries the VOC zero-shot split.
# Evaluation (training: voc20_train.py): short side 512 (scale (2048, 512), keep ratio); the
# ground truth is loaded after Resize so it keeps its size.
dataset_type = 'PascalVOC20Dataset'
data_root = 'data/VOCdevkit/VOC2012'
img_scale = (2048, 512)
ignore_index = 255
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        ignore_index=ignore_index,
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
# mIoU, and mIoU_seen / mIoU_unseen / hIoU from the dataset's seen/unseen metainfo, averaged over
# the classes with ground-truth pixels, as the published open-vocabulary VOC-20 numbers
# (detectron2's evaluator; the 15/5 zero-shot protocol of voc20_train.py is mmseg's 'all';
# mmpat.evaluation.metrics.benchmarks.BENCHMARK_AVERAGE).
val_evaluator = dict(type='OpenVocabIoUMetric', ignore_index=ignore_index, average='present')
test_evaluator = val_evaluator
