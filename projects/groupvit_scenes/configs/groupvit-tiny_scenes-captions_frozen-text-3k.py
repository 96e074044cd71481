# Experimental recipe on the scenes (our choices, not the paper's), measured in
# docs/experiments/groupvit_scenes.md: the shipped scenes config plus
# - a BatchNorm conv stem instead of the linear patchify
#   (GroupViT(patch_embed=dict(type='ConvStem', ...))),
# - the noun-prompt MIL loss on the tokens before the first grouping (token_text_loss) and the
#   noun-swap loss on them ('red circle' against 'red square', ...: noun_swap_loss),
# - the text tower (encoder and projector) frozen at its random initialisation: trained, it
#   maps every shape word of a colour to one embedding (cosine 1.000, grouping report) and no
#   loss can then ask the image side for shapes; frozen, the shape words stay apart,
# - 3000 iterations (about 25 min on 2 cores).
# Still text-supervised from captions only (the text tower is random, not pretrained).
#   python tools/train.py \
#       projects/groupvit_scenes/configs/groupvit-tiny_scenes-captions_frozen-text-3k.py
_base_ = ['./groupvit-tiny_scenes-captions.py']
model = dict(
    backbone=dict(patch_embed=dict(type='ConvStem', channels=(32, 64, 128), strides=(2, 2, 3))),
    extension=dict(
        token_text_loss=dict(type='GroupTextMILLoss', loss_name='loss_token_text'),
        noun_swap_loss=dict(type='NounSwapMILLoss', num_swaps=4),
    ),
)
max_iters = 3000
warmup_iters = 50
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(
    paramwise_cfg=dict(
        # the text transformer and its projector (text_encoder.projector)
        custom_keys={'text_encoder': dict(lr_mult=0.0, decay_mult=0.0)}
    )
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(
        type='CosineAnnealingLR',
        eta_min=4e-5,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters,
        T_max=max_iters - warmup_iters,
    ),
]
default_hooks = dict(checkpoint=dict(interval=500, max_keep_ckpts=6))
work_dir = './work_dirs/groupvit-tiny_scenes-captions_frozen-text-3k'
