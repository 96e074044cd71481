"""GroupViT architecture presets (image encoder, text encoder, projectors).

``GroupViT-S`` is the architecture of both released models (GroupViT, Xu et al., CVPR 2022;
see ``docs/methods/groupvit.md``). ``GroupViT-tiny`` is for the offline scenes (96 px images,
CPU training in minutes); ``GroupViT-test`` builds in milliseconds for unit tests.

:func:`groupvit_zero_shot_cfg` writes the zero-shot segmentor of a preset as a model config:
``OpenVocabEncoderDecoder`` with the ``GroupViT`` backbone, ``GroupViTTextEncoder`` and
``GroupViTZeroShotHead`` (what ``configs/_base_/models/groupvit-s.py`` spells out for
GroupViT-S).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

GROUPVIT_PRESETS: dict[str, dict[str, Any]] = {
    'GroupViT-S': dict(
        image=dict(
            img_size=224,
            patch_size=16,
            embed_dim=384,
            num_heads=6,
            depths=(6, 3, 3),
            num_group_tokens=(64, 8, 0),
            num_output_groups=(64, 8),
            drop_path_rate=0.1,
        ),
        text=dict(context_length=77, vocab_size=49408, width=256, heads=4, layers=12),
        proj=dict(hidden_dim=4096, out_dim=256),
    ),
    'GroupViT-tiny': dict(
        image=dict(
            img_size=96,
            patch_size=12,
            embed_dim=128,
            num_heads=4,
            # No blocks after the last grouping (GroupViT-S has 3): blocks there mix the final
            # groups, so a group's own embedding describes its own segment less (measured, 500
            # iterations: the dominant object's group named with the right colour 48% without
            # the block vs 32% with it).
            depths=(2, 2, 0),
            # 8 final groups, as GroupViT-S: objects cover ~10% of a scene, so with 4 groups
            # the smallest possible group is already larger than most objects.
            num_group_tokens=(32, 8, 0),
            num_output_groups=(32, 8),
            drop_path_rate=0.0,
        ),
        text=dict(context_length=32, vocab_size=49408, width=128, heads=4, layers=3),
        proj=dict(hidden_dim=256, out_dim=128),
    ),
    'GroupViT-test': dict(
        image=dict(
            img_size=64,
            patch_size=16,
            embed_dim=64,
            num_heads=2,
            depths=(2, 1, 1),
            num_group_tokens=(8, 2, 0),
            num_output_groups=(8, 2),
            drop_path_rate=0.0,
        ),
        text=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2),
        proj=dict(hidden_dim=64, out_dim=32),
    ),
}


def get_groupvit_preset(arch: str | dict[str, Any]) -> dict[str, Any]:
    """Resolve an architecture name or dict to ``dict(image=..., text=..., proj=...)``.

    Args:
        arch: A preset name, or a dict. A dict with ``base`` (a preset name) overrides that
            preset per part (e.g. ``dict(base='GroupViT-S', text=dict(layers=6))``); a dict
            without ``base`` must give all three parts.

    Returns:
        dict: A deep copy, safe to modify.

    Raises:
        KeyError: Unknown preset name (lists the known ones).
    """
    if isinstance(arch, str):
        if arch not in GROUPVIT_PRESETS:
            raise KeyError(f'unknown GroupViT arch {arch!r}; known: {sorted(GROUPVIT_PRESETS)}')
        return copy.deepcopy(GROUPVIT_PRESETS[arch])
    arch = copy.deepcopy(dict(arch))
    base = arch.pop('base', None)
    preset = get_groupvit_preset(base) if base is not None else dict(image={}, text={}, proj={})
    for part, values in arch.items():
        if part not in ('image', 'text', 'proj'):
            raise KeyError(f'GroupViT arch part {part!r} unknown; use image, text or proj')
        preset[part].update(values)
    return preset


IMAGENET_PREPROCESSOR = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
)


def groupvit_zero_shot_cfg(
    arch: str | dict[str, Any] = 'GroupViT-S',
    *,
    backbone: dict | None = None,
    class_names: Sequence | None = None,
    templates: str | Sequence[str] = ('a photo of a {}.',),
    bg_thresh: float = 0.95,
    topk: int = 5,
    align_corners: bool = False,
    pretrained: str | None = None,
    data_preprocessor: dict | None = None,
    train_cfg: dict | None = None,
    test_cfg: dict | None = None,
    init_cfg: dict | None = None,
) -> dict[str, Any]:
    """The GroupViT zero-shot segmentor of a preset, as an ``OpenVocabEncoderDecoder`` config.

    Args:
        arch: Preset name or dict (see :func:`get_groupvit_preset`).
        backbone: Overrides of the image encoder arguments (e.g. ``stem``).
        class_names: Vocabulary (None: set later); a first 'background' class is decided by
            ``bg_thresh``, not text-encoded.
        templates: Prompt templates, or a template-set name.
        bg_thresh, topk, align_corners: ``GroupViTZeroShotHead`` arguments.
        pretrained: A GroupViT checkpoint (the segmentor's ``pretrained``: every part loads
            its share of it).
        data_preprocessor: Default ImageNet mean/std, RGB.
        train_cfg, test_cfg, init_cfg: Segmentor arguments (``test_cfg`` default whole).

    Returns:
        dict: A model config (deep copies, safe to modify).
    """
    preset = get_groupvit_preset(arch)
    image = dict(preset['image'], **copy.deepcopy(backbone or {}))
    return dict(
        type='OpenVocabEncoderDecoder',
        data_preprocessor=copy.deepcopy(data_preprocessor or IMAGENET_PREPROCESSOR),
        backbone=dict(type='GroupViT', **image),
        text_encoder=dict(
            type='GroupViTTextEncoder',
            **preset['text'],
            proj=dict(preset['proj']),
        ),
        decode_head=dict(
            type='GroupViTZeroShotHead',
            in_channels=image.get('embed_dim', 384),
            proj=dict(preset['proj']),
            bg_thresh=bg_thresh,
            topk=topk,
            align_corners=align_corners,
        ),
        class_names=copy.deepcopy(class_names),
        # a template-set name ('simple', 'imagenet') stays a name: list() would split it
        templates=templates if isinstance(templates, str) else list(templates),
        pretrained=pretrained,
        train_cfg=copy.deepcopy(train_cfg or {}),
        test_cfg=copy.deepcopy(test_cfg or dict(mode='whole')),
        init_cfg=init_cfg,
    )
