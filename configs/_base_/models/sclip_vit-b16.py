# SCLIP (correlative self-attention, training-free) on the dense-CLIP segmentor of a frozen CLIP
# ViT-B/16: the last block mixes the values by softmax(s q q^T) + softmax(s k k^T), residual and
# MLP kept (docs/methods/dense_clip.md). The paper's evaluation: slide 224 / stride 112, logit
# scale 40.
_base_ = ['./dense-clip_vit-b16.py']
model = dict(
    backbone=dict(dense_attention='sclip'),
    decode_head=dict(logit_scale=40.0),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)),
)
