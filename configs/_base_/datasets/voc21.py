# VOC-21 (GroupViT protocol): PASCAL VOC 2012 val, background + 20 ('table', 'plant', 'monitor').
# Data: mmseg layout. The model decides the background by a threshold (bg_thresh 0.95, the
# GroupViT authors' value; docs/methods/groupvit.md).
# Zero-shot evaluation only (no train split): short side 448 (scale (2048, 448), keep ratio); the
# ground truth is loaded after Resize so it keeps its size.
dataset_type = 'PascalVOC21Dataset'
data_root = 'data/VOCdevkit/VOC2012'
img_scale = (2048, 448)
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
# mIoU over all classes, background included, averaged the mmseg way (GroupViT protocol;
# mmpat.evaluation.metrics.benchmarks.BENCHMARK_AVERAGE).
val_evaluator = dict(type='OpenVocabIoUMetric', ignore_index=ignore_index, average='all')
test_evaluator = val_evaluator
