# A tiny dense-CLIP segmentor (random 'ViT-test' CLIP) on the tiny 64x64 set: for API/demo tests.
_base_ = ['./tiny_vit-fcn_4it_tiny-seg.py']
model = dict(
    _delete_=True,
    type='OpenVocabEncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[122.771, 116.746, 104.094],
        std=[68.501, 66.632, 70.323],
        bgr_to_rgb=True,
        size=(64, 64),
    ),
    backbone=dict(type='CLIPPyramid', preset='ViT-test', pretrained=None, out_indices=(1, 2)),
    text_encoder=dict(type='OpenCLIPTextEncoder', preset='ViT-test', templates='simple'),
    decode_head=dict(type='DenseCLIPHead', logit_scale=100.0),
    test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)),
)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
custom_hooks = [dict(type='VocabularyHook')]
