# Reuse (issue 19): mmpat's open-vocabulary head on a plain mmseg backbone. OpenVocabEncoderDecoder
# + mmseg's MixVisionTransformer (SegFormer MiT-B0, the settings of mmseg's
# configs/_base_/models/segformer_mit-b0.py) + DenseCLIPHead on the last MiT stage (in_index=3,
# 256 channels, stride 32) through a learned 1x1 projection to CLIP's text space (embed_dims=512)
# + the frozen CLIP ViT-B/16 text tower (OpenCLIPTextEncoder) as the classifier. Trained on
# ADE20K-150; the vocabulary is the dataset's (VocabularyHook) and can be changed at run time.
# The tuple of MiT maps reaches the head as inputs['features'] (OpenVocabEncoderDecoder); the
# head's in_index / in_channels pick and size the map as for any mmseg head. 512x512 crops, 80k
# iterations, AdamW (lr 6e-5, head lr x10, no decay on norms and position blocks: mmseg's
# SegFormer recipe), poly schedule, 4 GPUs x 4 images.
#
# Weights files (local; nothing is downloaded), relative to the folder the tools run in:
# - checkpoints/clip/ViT-B-16.pt (clip_weights below): the text tower's CLIP, OpenAI's
#   ViT-B-16.pt, or another CLIP file converted with
#     python tools/model_converters/clip2mmpat.py SRC checkpoints/clip/ViT-B-16.pt
# - checkpoints/mit_b0.pth: ImageNet MiT-B0 weights, mmseg's mit_b0_20220624-7e0fe6dd.pth
#   (download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/; fetch it yourself and save
#   it under this name). The backbone starts random here (pretrained=None); with the file set
#   model.backbone.pretrained='checkpoints/mit_b0.pth' (or --cfg-options
#   model.backbone.pretrained=checkpoints/mit_b0.pth; MiT turns it into a Pretrained init_cfg).
#   Without it the results are far below SegFormer's.
# Data: data/ade/ADEChallengeData2016 (mmseg layout, configs/_base_/datasets/ade20k_150_train.py).
#
# Train (1 GPU / CPU; the schedule is for 4 GPUs):
#   python tools/train.py configs/reuse/dense-clip-head_mit-b0_ade20k-150.py
# Train on 4 GPUs (this config's setting: 4 GPUs x 4 images = batch 16):
#   bash tools/dist_train.sh configs/reuse/dense-clip-head_mit-b0_ade20k-150.py 4
# Test on A-150 (whole-image inference, short side 512):
#   python tools/test.py configs/reuse/dense-clip-head_mit-b0_ade20k-150.py \
#       work_dirs/dense-clip-head_mit-b0_ade20k-150/iter_80000.pth
_base_ = [
    '../_base_/datasets/ade20k_150_train.py',
    '../_base_/schedules/schedule_80k.py',
    '../_base_/default_runtime.py',
]
clip_weights = 'checkpoints/clip/ViT-B-16.pt'
crop_size = (512, 512)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],  # ImageNet normalisation (the MiT's)
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size,
)
model = dict(
    type='OpenVocabEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='MixVisionTransformer',  # mmseg's SegFormer MiT-B0
        in_channels=3,
        embed_dims=32,
        num_stages=4,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        pretrained=None,  # or 'checkpoints/mit_b0.pth' (ImageNet MiT-B0; see the header)
    ),
    text_encoder=dict(
        type='OpenCLIPTextEncoder',
        preset='ViT-B-16',
        pretrained=clip_weights,
        templates='vild',
        cache_dir='work_dirs/text_embedding_cache',
    ),
    decode_head=dict(
        type='DenseCLIPHead',
        in_channels=256,  # MiT-B0 stage 4 (embed_dims 32 x num_heads 8)
        in_index=3,
        embed_dims=512,  # CLIP ViT-B/16 text width: a learned 1x1 projection 256 -> 512
        logit_scale=100.0,
        learnable_scale=True,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'),
)
custom_hooks = [dict(type='VocabularyHook')]
optim_wrapper = dict(
    optimizer=dict(lr=6e-5),
    paramwise_cfg=dict(
        custom_keys={
            'pos_block': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
            'head': dict(lr_mult=10.0),
        }
    ),
)
train_dataloader = dict(batch_size=4)  # per GPU
# The lr is for a total batch of 16 (4 GPUs x 4 images).
auto_scale_lr = dict(enable=False, base_batch_size=16)
randomness = dict(seed=0)
