# The scenes GroupViT of groupvit-tiny_scenes-captions.py, evaluated with a coarser vocabulary:
# the 6 colours ('red object', ..., the captions' own phrasing of a colour alone) + background,
# the label maps merged alike (ScenesDataset level='colour'). Same training, same protocol; it
# measures what the captions teach at this budget (colours are learned, shapes are not: see
# docs/experiments/groupvit_scenes.md). For shapes alone, set test_dataloader.dataset.level=shape.
#   python tools/test.py \
#       projects/groupvit_scenes/configs/groupvit-tiny_scenes-captions_colour-vocab.py \
#       work_dirs/groupvit-tiny_scenes-captions/iter_1000.pth
_base_ = ['./groupvit-tiny_scenes-captions.py']
val_dataloader = dict(dataset=dict(level='colour'))
test_dataloader = val_dataloader
work_dir = './work_dirs/groupvit-tiny_scenes-captions'
