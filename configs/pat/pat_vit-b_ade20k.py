# PAT (Feature Pyramid Tokenization) on a frozen CLIP ViT-B/16, trained on ADE20K-150: 512x512
# crops, 80k iterations, AdamW (lr 1e-4, weight decay 0.01), poly schedule, 4 GPUs x 4 images.
# The other benchmarks test the same checkpoint: pat_vit-b_ade20k_zeroshot_*.py.
#
# CLIP weights: a local file, named once below (clip_weights), for the image and the text tower,
# at checkpoints/clip/ViT-B-16.pt relative to the folder the tools run in: OpenAI's ViT-B-16.pt
# as released, or another CLIP file (open_clip .bin/.safetensors, Hugging Face) converted with
#   python tools/model_converters/clip2mmpat.py SRC checkpoints/clip/ViT-B-16.pt
# Without the file the tools stop with an error naming it and the converter.
# Another place: --cfg-options model.backbone.pretrained=PATH model.text_encoder.pretrained=PATH
# Data: data/ade/ADEChallengeData2016 (mmseg layout, configs/_base_/datasets/ade20k_150_train.py).
#
# Train (1 GPU / CPU; the schedule is for 4 GPUs):
#   python tools/train.py configs/pat/pat_vit-b_ade20k.py
# Train on 4 GPUs (this config's setting: 4 GPUs x 4 images = batch 16):
#   bash tools/dist_train.sh configs/pat/pat_vit-b_ade20k.py 4
# Test on A-150 (slide inference, 512 crops):
#   python tools/test.py configs/pat/pat_vit-b_ade20k.py \
#       work_dirs/pat_vit-b_ade20k/iter_80000.pth
# Another batch size: keep the lr by the linear rule with
#   --cfg-options auto_scale_lr.enable=True (scales lr by total batch / base_batch_size)
_base_ = [
    '../_base_/models/pat_vit-b16.py',
    '../_base_/datasets/ade20k_150_train.py',
    '../_base_/schedules/schedule_80k.py',
    '../_base_/default_runtime.py',
]
clip_weights = 'checkpoints/clip/ViT-B-16.pt'
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(preset='ViT-B-16', pretrained=clip_weights),
    text_encoder=dict(preset='ViT-B-16', pretrained=clip_weights),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)),
)
train_dataloader = dict(batch_size=4)  # per GPU
# The lr (1e-4, configs/_base_/schedules/schedule_80k.py) is for a total batch of 16 (4 GPUs x 4
# images). enable=True rescales it linearly for another number of GPUs or images per GPU.
auto_scale_lr = dict(enable=False, base_batch_size=16)
randomness = dict(seed=0)
