# Ablation: one learned segmentation prompt (k=1; OCLoss is zero for one prompt), GPR kept.
_base_ = ['./mvp-seg_clip-tiny_scenes.py']
model = dict(decode_head=dict(num_prompts=1, loss_oc=None))
