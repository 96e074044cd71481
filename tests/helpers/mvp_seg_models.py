"""Tiny MVP-SEG teacher and MVP-SEG+ student configs on the random 'ViT-test' CLIP."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

PREPROCESSOR = dict(type='SegDataPreProcessor', mean=[0] * 3, std=[1] * 3, size=(32, 32))
TEXT = dict(type='OpenCLIPTextEncoder', preset='ViT-test', templates='simple')
TEACHER = dict(
    type='OpenVocabEncoderDecoder',
    data_preprocessor=PREPROCESSOR,
    backbone=dict(type='CLIPPyramid', preset='ViT-test', out_indices=(2,)),
    text_encoder=TEXT,
    decode_head=dict(type='MultiPromptHead', num_prompts=3, n_ctx=4),
    test_cfg=dict(mode='whole'),
)
STUDENT = dict(
    type='OpenVocabEncoderDecoder',
    data_preprocessor=PREPROCESSOR,
    backbone=dict(
        type='ResNetV1c', depth=18, stem_channels=16, base_channels=8, out_indices=(0, 1, 2, 3)
    ),
    text_encoder=dict(type='MultiViewPromptTextEncoder', text_encoder=TEXT, n_ctx=4),
    decode_head=dict(
        type='TextClassifierASPPHead',
        in_channels=64,
        in_index=3,
        channels=16,
        dilations=(1, 2),
        embed_dims=32,
    ),
    test_cfg=dict(mode='whole'),
)
CLASSES = ['background', 'cat', 'dog', 'sky']
UNSEEN = ['dog']


def teacher_cfg() -> dict:
    return copy.deepcopy(TEACHER)


def student_cfg(**text_encoder) -> dict:
    cfg = copy.deepcopy(STUDENT)
    cfg['text_encoder'].update(text_encoder)
    return cfg


def write_teacher(folder: Path) -> tuple[str, str]:
    """A teacher config file and a checkpoint of it (random weights): (config, checkpoint)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / 'teacher.py'
    config.write_text(f'model = {TEACHER!r}\n')
    torch.manual_seed(0)
    model = MODELS.build(teacher_cfg())
    checkpoint = folder / 'teacher.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    return str(config), str(checkpoint)


def data_batch(batch: int = 2, size: int = 32, ignored: float = 0.5) -> dict:
    """A dataloader batch: uint8 images and label maps with a share of ignored (255) pixels."""
    generator = torch.Generator().manual_seed(1)
    inputs, samples = [], []
    for _ in range(batch):
        image = torch.randint(0, 255, (3, size, size), generator=generator, dtype=torch.uint8)
        inputs.append(image)
        label = torch.randint(0, 2, (1, size, size), generator=generator)
        label[torch.rand(1, size, size, generator=generator) < ignored] = 255
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label)
        sample.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
