# Ablation: k=3 prompts with OCLoss, without global prompt refining (no global prompt, no L_cls).
_base_ = ['./mvp-seg_clip-tiny_scenes.py']
model = dict(decode_head=dict(use_gpr=False))
