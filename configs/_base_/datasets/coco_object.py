# COCO-Object (GroupViT protocol): COCO val2017, background + 80 things.
# Data: python tools/dataset_converters/coco_object.py data/coco_stuff164k/annotations/val2017
# The model decides the background by a threshold (bg_thresh 0.95, the GroupViT authors' value;
# docs/methods/groupvit.md).
# Zero-shot evaluation only (no train split): short side 448 (scale (2048, 448), keep ratio); the
# ground truth is loaded after Resize so it keeps its size.
dataset_type = 'COCOObjectDataset'
data_root = 'data/coco_stuff164k'
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
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
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
