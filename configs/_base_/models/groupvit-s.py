# GroupViT-S zero-shot segmentor (spec section 1.5): ImageNet mean/std, slide 448 crop / 224
# stride, template 'a photo of a {}.', top-5 class filter. The vocabulary comes from the test
# dataset (VocabularyHook); a first class 'background' is decided by bg_thresh.
model = dict(
    type='GroupViTZeroShot',
    arch='GroupViT-S',
    pretrained=None,
    templates=['a photo of a {}.'],
    bg_thresh=0.95,
    topk=5,
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
    ),
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224)),
)
custom_hooks = [dict(type='VocabularyHook')]
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    visualization=dict(type='SegVisualizationHook'),
)
