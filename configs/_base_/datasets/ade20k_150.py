# ADE20K val (ADEChallengeData2016), 150 classes, label 0 ignored.
# Data: mmseg layout (see mmseg docs, dataset_prepare.md "ADE20K").
# Zero-shot evaluation only (no train split): short side 512 (scale (2048, 512), keep ratio); the
# ground truth is loaded after Resize so it keeps its size.
dataset_type = 'ADE20K150Dataset'
data_root = 'data/ade/ADEChallengeData2016'
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
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        ignore_index=ignore_index,
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
# mIoU (no seen/unseen split is defined for this benchmark), averaged over the classes with
# ground-truth pixels, as the published open-vocabulary A-150 numbers (detectron2's evaluator;
# mmpat.evaluation.metrics.benchmarks.BENCHMARK_AVERAGE).
val_evaluator = dict(type='OpenVocabIoUMetric', ignore_index=ignore_index, average='present')
test_evaluator = val_evaluator
