# PAT's baseline on the scenes: the same model without the tokenizer and the pixel branch
# (SemanticFusionHead on the CLIP pyramid and the dense CLIP map only), same schedule and seed.
_base_ = ['./pat_clip-tiny_scenes.py']
model = dict(neck=None, auxiliary_head=None, decode_head=dict(token_channels=None))
