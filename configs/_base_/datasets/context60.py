# Context-60 (GroupViT protocol): PASCAL Context val, background + 59 classes.
# Data: mmseg layout. GroupViT decides the background by a threshold (bg_thresh 0.35, the
# GroupViT authors' value; docs/methods/groupvit.md).
# Carries the Context zero-shot split (10 unseen of PC-59, background seen; MVP-SEG protocol).
# Evaluation (training: context60_train.py): short side 448 (scale (2048, 448), keep ratio); the
# ground truth is loaded after Resize so it keeps its size.
dataset_type = 'PascalContext60Dataset'
data_root = 'data/VOCdevkit/VOC2010'
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
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt',
        ignore_index=ignore_index,
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
# mIoU over all classes, background included (GroupViT protocol), and mIoU_seen / mIoU_unseen /
# hIoU from the Context split (background seen), averaged the mmseg way (GroupViT, MVP-SEG;
# mmpat.evaluation.metrics.benchmarks.BENCHMARK_AVERAGE).
val_evaluator = dict(type='OpenVocabIoUMetric', ignore_index=ignore_index, average='all')
test_evaluator = val_evaluator
