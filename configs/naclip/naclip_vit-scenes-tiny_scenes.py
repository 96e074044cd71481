# NACLIP on the generated scenes, with the tiny scenes CLIP (96 px, 6 x 6 patches) of
# configs/clip/clip-tiny_scenes.py; the paper's Gaussian std of 5 patches (on a 6 x 6 grid it
# weighs every patch almost alike). Whole-image inference, the tiny CLIP's native window
# (docs/experiments/training_free_dense_clip.md).
_base_ = ['../dense_clip/dense-clip_vit-scenes-tiny_scenes.py']
model = dict(backbone=dict(dense_attention='naclip'))
