# SCLIP, training-free, on VOC-20 (PASCAL VOC 2012 val, background ignored).
# CLIP ViT-B/16 weights: a local file (configs/_base_/models/dense-clip_vit-b16.py):
#   python tools/test.py configs/sclip/sclip_vit-b16_zeroshot_voc-20.py
_base_ = [
    '../_base_/models/sclip_vit-b16.py',
    '../_base_/datasets/voc20.py',
    '../_base_/default_runtime.py',
]
