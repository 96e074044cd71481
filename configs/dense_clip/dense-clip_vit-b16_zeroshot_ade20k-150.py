# Training-free dense-CLIP (MaskCLIP-style) zero-shot baseline on A-150 (ADE20K val, 150 classes).
# CLIP ViT-B/16 weights from a local file (see configs/_base_/models/dense-clip_vit-b16.py):
#   python tools/test.py configs/dense_clip/dense-clip_vit-b16_zeroshot_ade20k-150.py \
#       --cfg-options model.backbone.pretrained=checkpoints/clip/ViT-B-16.pt \
#       model.text_encoder.pretrained=checkpoints/clip/ViT-B-16.pt
# MaskCLIP refinements: --cfg-options model.decode_head.key_smoothing=True \
#       model.decode_head.denoise_threshold=0.5
_base_ = [
    '../_base_/models/dense-clip_vit-b16.py',
    '../_base_/datasets/ade20k_150.py',
    '../_base_/default_runtime.py',
]
