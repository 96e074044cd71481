# COCO-Stuff-171: COCO-Stuff-164k val2017, 171 classes.
# Data: mmseg layout (*_labelTrainIds.png). Carries the COCO-Stuff zero-shot split.
# Evaluation (training: coco_stuff171_train.py): short side 512 (scale (2048, 512), keep ratio); the
# ground truth is loaded after Resize so it keeps its size.
dataset_type = 'COCOStuff171Dataset'
data_root = 'data/coco_stuff164k'
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
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        ignore_index=ignore_index,
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
# mIoU, and mIoU_seen / mIoU_unseen / hIoU from the dataset's seen/unseen metainfo, averaged the
# mmseg way (SAN's mmseg numbers, MaskCLIP(+), MVP-SEG; mmpat.evaluation.metrics.benchmarks).
val_evaluator = dict(type='OpenVocabIoUMetric', ignore_index=ignore_index, average='all')
test_evaluator = val_evaluator
