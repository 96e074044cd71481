# SCLIP, training-free, on A-150 (ADE20K val, 150 classes).
# CLIP ViT-B/16 weights: a local file (configs/_base_/models/dense-clip_vit-b16.py):
#   python tools/test.py configs/sclip/sclip_vit-b16_zeroshot_ade20k-150.py
_base_ = [
    '../_base_/models/sclip_vit-b16.py',
    '../_base_/datasets/ade20k_150.py',
    '../_base_/default_runtime.py',
]
