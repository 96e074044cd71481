# Image-text contrastive pretraining (learnable temperature) of an open_clip model built from a
# preset of mmpat/models/clip/presets.py (random init): the scenes VLM, a timm ResNet image tower
# with global max pooling, trained on the image tags (multi-positive contrastive loss, UniCL's
# form) against a text tower kept at its seeded random init (docs/experiments/scenes_clip.md).
# loss_type='captions' is CLIP's InfoNCE on one random caption per image.
model = dict(
    type='CLIPContrastive',
    preset='timm-resnet-scenes-tiny',
    loss_type='tags',
    tag_template='a photo of a {}.',  # the zero-shot tools' template
    freeze_text_tower=True,
    # The frozen text tower from its own seed: its weights depend on the preset and this seed
    # alone, so the shipped compact file (image tower + seed) rebuilds the model bit for bit.
    text_init_seed=0,
    # An image's target over its tags ~ visible pixels ** 3, so the largest object leads (the
    # zero-shot tools name an image's dominant object); a start at the clamp's temperature.
    tag_weight_power=3.0,
    init_logit_scale=100.0,
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
