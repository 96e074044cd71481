# NACLIP with PAMR post-processing (10 iterations, dilations 8 and 16 px): each slide crop's
# logits, resized to the crop, are averaged over colour-alike neighbours (DenseCLIPHead.pamr).
_base_ = ['./naclip_vit-b16.py']
model = dict(decode_head=dict(pamr=dict(iterations=10, dilations=(8, 16))))
