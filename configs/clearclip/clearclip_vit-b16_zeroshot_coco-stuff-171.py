# ClearCLIP, training-free, on COCO-Stuff-171 (COCO-Stuff-164k val).
# CLIP ViT-B/16 weights: a local file (configs/_base_/models/dense-clip_vit-b16.py):
#   python tools/test.py configs/clearclip/clearclip_vit-b16_zeroshot_coco-stuff-171.py
_base_ = [
    '../_base_/models/clearclip_vit-b16.py',
    '../_base_/datasets/coco_stuff171.py',
    '../_base_/default_runtime.py',
]
