# ClearCLIP, training-free, on PC-459 (PASCAL Context full val, 459 classes).
# CLIP ViT-B/16 weights: a local file (configs/_base_/models/dense-clip_vit-b16.py):
#   python tools/test.py configs/clearclip/clearclip_vit-b16_zeroshot_pascal-context-459.py
_base_ = [
    '../_base_/models/clearclip_vit-b16.py',
    '../_base_/datasets/pascal_context_459.py',
    '../_base_/default_runtime.py',
]
