# Cross-dataset test of PAT trained on ADE20K-150 (pat_vit-b_ade20k.py: the same model, so its
# checkpoint loads) on VOC-20 (PASCAL VOC 2012 val, 20 classes, background ignored).
# Loaders and metric: configs/_base_/datasets/voc20.py. Slide inference, 512x512 crops.
#   python tools/test.py configs/pat/pat_vit-b_ade20k_zeroshot_voc-20.py \
#       work_dirs/pat_vit-b_ade20k/iter_80000.pth
_base_ = [
    '../_base_/models/pat_vit-b16.py',
    '../_base_/datasets/voc20.py',
    '../_base_/default_runtime.py',
]
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
