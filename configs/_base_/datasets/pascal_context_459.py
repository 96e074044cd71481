# PC-459: PASCAL Context full val, 459 classes, 16-bit labels (ignore 65535).
# Data: python tools/dataset_converters/pascal_context_459.py data/VOCdevkit/VOC2010
# Zero-shot evaluation only (no train split): short side 512 (scale (2048, 512), keep ratio); the
# ground truth is loaded after Resize so it keeps its size.
dataset_type = 'PascalContext459Dataset'
data_root = 'data/VOCdevkit/VOC2010'
img_scale = (2048, 512)
ignore_index = 65535
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotationsUint16', ignore_index=ignore_index),
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
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext459'),
        ann_file='ImageSets/SegmentationContext459/val.txt',
        ignore_index=ignore_index,
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
# mIoU (no seen/unseen split is defined for this benchmark), averaged over the classes with
# ground-truth pixels, as every published PC-459 number (detectron2's evaluator: CAT-Seg, SAN,
# FC-CLIP, SED; mmpat.evaluation.metrics.benchmarks.BENCHMARK_AVERAGE).
val_evaluator = dict(type='OpenVocabIoUMetric', ignore_index=ignore_index, average='present')
test_evaluator = val_evaluator
