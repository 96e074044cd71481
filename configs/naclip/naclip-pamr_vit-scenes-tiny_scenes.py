# NACLIP + PAMR (10 iterations, dilations 8 and 16 px, as for the benchmarks) on the generated
# scenes with the tiny scenes CLIP (docs/experiments/training_free_dense_clip.md).
_base_ = ['./naclip_vit-scenes-tiny_scenes.py']
model = dict(decode_head=dict(pamr=dict(iterations=10, dilations=(8, 16))))
