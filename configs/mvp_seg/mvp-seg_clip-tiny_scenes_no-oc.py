# Ablation: k=3 prompts without the orthogonal constraint (OCLoss off), GPR kept.
_base_ = ['./mvp-seg_clip-tiny_scenes.py']
model = dict(decode_head=dict(loss_oc=None))
