# Image-text contrastive pretraining (symmetric InfoNCE, learnable temperature) of an open_clip
# model built from a preset of mmpat/models/clip/presets.py (random init).
model = dict(
    type='CLIPContrastive',
    preset='ViT-scenes-tiny',
    max_logit_scale=100.0,
    gather_with_grad=True,
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[122.7709383, 116.7460125, 104.09373615],  # CLIP's, in 0-255
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True,
        size=(96, 96),  # the preset's image size (stacking only; images are 96 px)
    ),
)
