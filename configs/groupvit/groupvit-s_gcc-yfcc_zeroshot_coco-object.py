# GroupViT-S (gcc-yfcc released weights) zero-shot on coco-object (spec 1.5/1.6), bg_thresh 0.95.
# Weights: the released checkpoints/group_vit_gcc_yfcc_30e-879422e0.pth (converted on load), or its conversion by
# tools/model_converters/groupvit2mmpat.py. Released files hold the training config: set
# MMPAT_TRUST_CHECKPOINTS=1 (trusted files only) or convert them first.
_base_ = [
    '../_base_/models/groupvit-s.py',
    '../_base_/datasets/coco_object.py',
    '../_base_/default_runtime.py',
]
model = dict(pretrained='checkpoints/group_vit_gcc_yfcc_30e-879422e0.pth', bg_thresh=0.95)
