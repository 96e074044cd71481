# ClearCLIP on the generated scenes, with the tiny scenes CLIP (96 px, 6 x 6 patches) of
# configs/clip/clip-tiny_scenes.py. Whole-image inference: the paper's 448 px window covers a
# 96 px scene whole (docs/experiments/training_free_dense_clip.md).
_base_ = ['../dense_clip/dense-clip_vit-scenes-tiny_scenes.py']
model = dict(backbone=dict(dense_attention='clearclip'), decode_head=dict(logit_scale=50.0))
