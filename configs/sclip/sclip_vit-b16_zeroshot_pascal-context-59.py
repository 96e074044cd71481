# SCLIP, training-free, on PC-59 (PASCAL Context val, 59 classes).
# CLIP ViT-B/16 weights: a local file (configs/_base_/models/dense-clip_vit-b16.py):
#   python tools/test.py configs/sclip/sclip_vit-b16_zeroshot_pascal-context-59.py
_base_ = [
    '../_base_/models/sclip_vit-b16.py',
    '../_base_/datasets/pascal_context_59.py',
    '../_base_/default_runtime.py',
]
