# ADE20K-full val, 847 classes, 16-bit labels (ignore 65535).
# Data: python tools/dataset_converters/ade20k_full.py data/ade/ADE20K_2021_17_01 \
#           --out-dir data/ade20k_full
# Zero-shot evaluation only (no train split): short side 512 (scale (2048, 512), keep ratio); the
# ground truth is loaded after Resize so it keeps its size.
dataset_type = 'ADE20K847Dataset'
data_root = 'data/ade20k_full'
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
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        ignore_index=ignore_index,
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
# mIoU (no seen/unseen split is defined for this benchmark), averaged over the classes with
# ground-truth pixels, as every published A-847 number (detectron2's evaluator: CAT-Seg, SAN,
# FC-CLIP, SED; mmpat.evaluation.metrics.benchmarks.BENCHMARK_AVERAGE).
val_evaluator = dict(type='OpenVocabIoUMetric', ignore_index=ignore_index, average='present')
test_evaluator = val_evaluator
