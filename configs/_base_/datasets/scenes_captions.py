# Image-caption pairs of the generated scenes (pretrain split, all classes). Make the data first:
#   python tools/dataset_converters/gen_scenes.py --out data/scenes
# One random caption per sample and step (PackImageCaption mode='random') and the image's tags;
# no colour augmentation (colour words are in the captions).
caption_data_root = 'data/scenes'
caption_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackImageCaption', mode='random'),
]
train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ImageCaptionDataset',
        data_root=caption_data_root,
        ann_file='captions/pretrain.jsonl',
        # The object names of every pretrain image (its tags; CLIPContrastive loss_type='tags').
        tags_file='annotations/pretrain.jsonl',
        pipeline=caption_pipeline,
    ),
)
