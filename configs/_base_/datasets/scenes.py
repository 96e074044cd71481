# Generated open-vocabulary scenes (segmentation splits). Make the data first:
#   python tools/dataset_converters/gen_scenes.py --out data/scenes
# Classes, palette and the seen/unseen split come from data/scenes/meta.json. No colour
# augmentation: colour words are part of the class names.
dataset_type = 'ScenesDataset'
data_root = 'data/scenes'
crop_size = (96, 96)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline, test_mode=True
    ),
)
test_dataloader = val_dataloader
# mIoU / seen / unseen / hIoU averaged the mmseg way (our benchmark;
# mmpat.evaluation.metrics.benchmarks.BENCHMARK_AVERAGE).
val_evaluator = dict(type='OpenVocabIoUMetric', count_background=True, average='all')
test_evaluator = val_evaluator
