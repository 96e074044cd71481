# The tiny ViT CLIP of the scenes ('ViT-scenes-tiny'; 4 blocks, width 128, patch 16), same recipe
# as the scenes VLM (configs/clip/clip-tiny_scenes.py): the frozen CLIP of the ViT-only
# training-free variants on the scenes (configs/{dense_clip,sclip,clearclip,naclip}/
# *_vit-scenes-tiny_scenes.py; `make leaderboard` pretrains it).
#   OMP_NUM_THREADS=1 python tools/train.py configs/clip/clip-vit-tiny_scenes.py
_base_ = ['./clip-tiny_scenes.py']
model = dict(preset='ViT-scenes-tiny')
work_dir = './work_dirs/clip-vit-tiny_scenes'
# 900 iterations (the scenes VLM's 2700 do not pay off for this tower: 20.0% zero-shot at 900).
max_iters = 900
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=50, end=900, T_max=850),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
