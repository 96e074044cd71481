# ClearCLIP (training-free) on the dense-CLIP segmentor of a frozen CLIP ViT-B/16: the last
# block's output is out_proj(softmax(s q q^T) v), without its residual and its MLP
# (docs/methods/dense_clip.md). The paper's evaluation: slide 448 / stride 224, logit scale 50.
_base_ = ['./dense-clip_vit-b16.py']
model = dict(
    backbone=dict(dense_attention='clearclip'),
    decode_head=dict(logit_scale=50.0),
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224)),
)
