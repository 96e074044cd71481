# NACLIP + PAMR, training-free, on VOC-20 (PASCAL VOC 2012 val, background ignored).
# CLIP ViT-B/16 weights: a local file (configs/_base_/models/dense-clip_vit-b16.py):
#   python tools/test.py configs/naclip/naclip-pamr_vit-b16_zeroshot_voc-20.py
_base_ = [
    '../_base_/models/naclip-pamr_vit-b16.py',
    '../_base_/datasets/voc20.py',
    '../_base_/default_runtime.py',
]
