# NACLIP, training-free, on A-847 (ADE20K-full val, 847 classes).
# CLIP ViT-B/16 weights: a local file (configs/_base_/models/dense-clip_vit-b16.py):
#   python tools/test.py configs/naclip/naclip_vit-b16_zeroshot_ade20k-847.py
_base_ = [
    '../_base_/models/naclip_vit-b16.py',
    '../_base_/datasets/ade20k_847.py',
    '../_base_/default_runtime.py',
]
