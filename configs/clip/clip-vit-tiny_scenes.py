# The tiny ViT CLIP of the scenes ('ViT-scenes-tiny'; 4 blocks, width 128, patch 16), same recipe
# as the scenes VLM (configs/clip/clip-tiny_scenes.py): the frozen CLIP of the ViT-only
# training-free variants on the scenes (configs/{dense_clip,sclip,clearclip,naclip}/
# *_vit-scenes-tiny_scenes.py; `make leaderboard` pretrains it).
#   OMP_NUM_THREADS=1 python tools/train.py configs/clip/clip-vit-tiny_scenes.py
_base_ = ['./clip-tiny_scenes.py']
model = dict(preset='ViT-scenes-tiny')
work_dir = './work_dirs/clip-vit-tiny_scenes'
