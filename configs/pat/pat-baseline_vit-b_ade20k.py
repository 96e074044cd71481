# PAT's baseline on ADE20K-150: pat_vit-b_ade20k.py without the tokenizer and the pixel branch
# (SemanticFusionHead on the CLIP pyramid and the dense CLIP map only); same data, schedule,
# CLIP file and seed.
#   python tools/train.py configs/pat/pat-baseline_vit-b_ade20k.py
#   python tools/test.py configs/pat/pat-baseline_vit-b_ade20k.py \
#       work_dirs/pat-baseline_vit-b_ade20k/iter_80000.pth
# Other benchmarks: the pat_vit-b_ade20k_zeroshot_*.py configs with
#   --cfg-options model.neck=None model.auxiliary_head=None model.decode_head.token_channels=None
_base_ = ['./pat_vit-b_ade20k.py']
model = dict(neck=None, auxiliary_head=None, decode_head=dict(token_channels=None))
