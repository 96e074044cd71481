# NACLIP (neighbour-aware CLIP, training-free) on the dense-CLIP segmentor of a frozen CLIP
# ViT-B/16: the last block attends by softmax(s k k^T + B), B a Gaussian (std 5 patches) of the
# grid distance, without its residual and its MLP (docs/methods/dense_clip.md). Slide 224 /
# stride 112 as SCLIP's protocol, which NACLIP evaluates with; CLIP's logit scale 100 (the
# argmax does not depend on it: slide averaging and PAMR are linear in the logits).
_base_ = ['./dense-clip_vit-b16.py']
model = dict(
    backbone=dict(dense_attention='naclip'),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)),
)
