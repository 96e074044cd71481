# Training-free dense-CLIP (MaskCLIP-style) zero-shot baseline on COCO-Stuff-171 (COCO-Stuff-164k val).
# CLIP ViT-B/16 weights from a local file (see configs/_base_/models/dense-clip_vit-b16.py):
#   python tools/test.py configs/dense_clip/dense-clip_vit-b16_zeroshot_coco-stuff-171.py \
#       --cfg-options model.backbone.pretrained=checkpoints/clip/ViT-B-16.pt \
#       model.text_encoder.pretrained=checkpoints/clip/ViT-B-16.pt
# MaskCLIP refinements: --cfg-options model.decode_head.key_smoothing=True \
#       model.decode_head.denoise_threshold=0.5
_base_ = [
    '../_base_/models/dense-clip_vit-b16.py',
    '../_base_/datasets/coco_stuff171.py',
    '../_base_/default_runtime.py',
]
