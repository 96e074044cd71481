# GroupViT-S with the released gcc-redcaps weights, zero-shot on PASCAL Context, bg_thresh 0.35
# (GroupViT, Xu et al., CVPR 2022; the protocol and its thresholds: docs/methods/groupvit.md).
# Weights: the authors' checkpoints/group_vit_gcc_redcap_30e-3dd09a76.pth
# (the backbone, text encoder and head each convert their part on load), or its conversion by
# tools/model_converters/groupvit2mmpat.py. Released files hold the training config: set
# MMPAT_TRUST_CHECKPOINTS=1 (trusted files only) or convert them first.
_base_ = [
    '../_base_/models/groupvit-s.py',
    '../_base_/datasets/context60.py',
    '../_base_/default_runtime.py',
]
model = dict(
    pretrained='checkpoints/group_vit_gcc_redcap_30e-3dd09a76.pth', decode_head=dict(bg_thresh=0.35)
)
