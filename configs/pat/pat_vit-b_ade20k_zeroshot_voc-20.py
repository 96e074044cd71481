# Cross-dataset test of PAT trained on ADE20K-150 (pat_vit-b_ade20k.py, the same model and
# checkpoint) on VOC-20 (PASCAL VOC 2012 val, 20 classes, background ignored).
# The loaders and the metric are those of configs/_base_/datasets/voc20.py (mmengine
# refuses two bases that both define val_dataloader, so they are restated here; a test checks
# that they stay equal). Slide inference with 512x512 crops, as on A-150.
#   python tools/test.py configs/pat/pat_vit-b_ade20k_zeroshot_voc-20.py \
#       work_dirs/pat_vit-b_ade20k/iter_80000.pth
_base_ = ['./pat_vit-b_ade20k.py']
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
        _delete_=True,
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
# mIoU, and mIoU_seen / mIoU_unseen / hIoU from the dataset's seen/unseen metainfo.
val_evaluator = dict(type='OpenVocabIoUMetric', ignore_index=ignore_index)
test_evaluator = val_evaluator
