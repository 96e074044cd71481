# SCLIP on the generated scenes, with the tiny scenes CLIP (96 px, 6 x 6 patches) of
# configs/clip/clip-tiny_scenes.py. Whole-image inference: the paper's 224 px window is CLIP's
# native size, which for the tiny CLIP is the whole 96 px scene (docs/experiments/
# training_free_dense_clip.md).
_base_ = ['../dense_clip/dense-clip_vit-scenes-tiny_scenes.py']
model = dict(backbone=dict(dense_attention='sclip'), decode_head=dict(logit_scale=40.0))
