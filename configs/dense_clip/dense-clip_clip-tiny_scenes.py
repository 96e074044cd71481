# Training-free dense-CLIP (MaskCLIP) zero-shot segmentation of the generated scenes (the main
# job's training-free row) with the scenes VLM of configs/clip/clip-tiny_scenes.py (a timm
# ResNet tower: the dense embedding is its pooling head applied at every location of the last
# stage, a 3 x 3 grid at 96 px).
_base_ = ['./dense-clip_vit-scenes-tiny_scenes.py']
clip_weights = 'work_dirs/clip-tiny_scenes/clip_tiny.pth'
model = dict(
    backbone=dict(
        preset='timm-resnet-scenes-tiny', pretrained=clip_weights, out_indices=(1, 2, 3, 4)
    ),
    text_encoder=dict(preset='timm-resnet-scenes-tiny', pretrained=clip_weights),
)
