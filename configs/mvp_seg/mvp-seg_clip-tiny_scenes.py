# MVP-SEG on the generated scenes with the tiny scenes CLIP (configs/clip/clip-tiny_scenes.py; the
# main job `make demo` pretrains it). Inductive zero-shot: the prompts learn on the seen classes of
# `train`, evaluation on every class of `val` (mIoU / seen / unseen / hIoU).
#   python tools/train.py configs/mvp_seg/mvp-seg_clip-tiny_scenes.py
# Ablations (same seed and schedule): mvp-seg_clip-tiny_scenes_{k1,no-oc,no-gpr}.py.
_base_ = [
    '../_base_/models/mvp-seg_vit-b16.py',
    '../_base_/datasets/scenes.py',
    '../_base_/schedules/schedule_scenes_1k.py',
    '../_base_/default_runtime.py',
]
clip_weights = 'work_dirs/clip-tiny_scenes/clip_tiny.pth'
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    # The last stages dilated (output stride 8): a 12 x 12 dense grid instead of 3 x 3, where
    # the prompts learnt "background everywhere" (docs/experiments/mvp_seg_scenes.md).
    backbone=dict(
        preset='timm-resnet-scenes-tiny',
        pretrained=clip_weights,
        out_indices=(4,),
        output_stride=8,
    ),
    text_encoder=dict(preset='timm-resnet-scenes-tiny', pretrained=clip_weights),
    test_cfg=dict(mode='whole'),
)
train_dataloader = dict(batch_size=16, dataset=dict(vocabulary='seen'))
optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.0))
randomness = dict(seed=0)
