"""The CLIP preset table: one entry per architecture mmpat can build and load.

Each preset holds the keyword arguments of :class:`open_clip.model.CLIP` (``embed_dim``,
``vision_cfg``, ``text_cfg``, ``quick_gelu``). The real presets match OpenAI's released CLIP
weights (QuickGELU), so OpenAI ``.pt`` files and open_clip ``openai`` weights load exactly.
The small presets serve the offline scenes benchmark and the unit tests.
"""

from __future__ import annotations

import copy
from typing import Any

_TEXT_B = dict(context_length=77, vocab_size=49408, width=512, heads=8, layers=12)
_TEXT_L = dict(context_length=77, vocab_size=49408, width=768, heads=12, layers=12)

CLIP_PRESETS: dict[str, dict[str, Any]] = {
    'ViT-B-16': dict(
        embed_dim=512,
        vision_cfg=dict(image_size=224, layers=12, width=768, patch_size=16),
        text_cfg=_TEXT_B,
        quick_gelu=True,
    ),
    'ViT-B-32': dict(
        embed_dim=512,
        vision_cfg=dict(image_size=224, layers=12, width=768, patch_size=32),
        text_cfg=_TEXT_B,
        quick_gelu=True,
    ),
    'ViT-L-14': dict(
        embed_dim=768,
        vision_cfg=dict(image_size=224, layers=24, width=1024, patch_size=14),
        text_cfg=_TEXT_L,
        quick_gelu=True,
    ),
    'ViT-L-14-336': dict(
        embed_dim=768,
        vision_cfg=dict(image_size=336, layers=24, width=1024, patch_size=14),
        text_cfg=_TEXT_L,
        quick_gelu=True,
    ),
    'RN50': dict(
        embed_dim=1024,
        vision_cfg=dict(image_size=224, layers=[3, 4, 6, 3], width=64, patch_size=None),
        text_cfg=_TEXT_B,
        quick_gelu=True,
    ),
    'RN101': dict(
        embed_dim=512,
        vision_cfg=dict(image_size=224, layers=[3, 4, 23, 3], width=64, patch_size=None),
        text_cfg=_TEXT_B,
        quick_gelu=True,
    ),
    # The frozen VLM of the offline scenes benchmark (pretrained by configs/clip/).
    'ViT-scenes-tiny': dict(
        embed_dim=128,
        vision_cfg=dict(image_size=96, layers=4, width=128, patch_size=16, head_width=32),
        text_cfg=dict(context_length=24, vocab_size=49408, width=128, heads=4, layers=4),
        quick_gelu=False,
    ),
    # The frozen VLM of the offline scenes benchmark since issue 22: timm's tiny test ResNet
    # (0.37M parameters) with global MAX pooling, an open_clip timm tower (the loading path of
    # ConvNeXt CLIP files). Max pooling lets the image embedding pick the object instead of
    # averaging it with the background: it names shapes where the average-pooled ViT does not
    # (docs/experiments/scenes_clip.md).
    'timm-resnet-scenes-tiny': dict(
        embed_dim=128,
        vision_cfg=dict(
            image_size=96, timm_model_name='test_resnet', timm_pool='max', timm_proj='linear'
        ),
        text_cfg=dict(context_length=24, vocab_size=49408, width=128, heads=4, layers=4),
        quick_gelu=False,
    ),
    # Unit tests only: builds in milliseconds.
    'ViT-test': dict(
        embed_dim=32,
        vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8, head_width=16),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2),
        quick_gelu=False,
    ),
}


def get_clip_preset(preset: str | dict[str, Any]) -> dict[str, Any]:
    """Return a deep copy of a preset (by name) or validate a preset given as a dict.

    Args:
        preset (str | dict): A name of :data:`CLIP_PRESETS` or a full preset dict.

    Returns:
        dict: ``open_clip.model.CLIP`` keyword arguments.

    Raises:
        KeyError: Unknown preset name (the message lists the known ones).
    """
    if isinstance(preset, dict):
        missing = {'embed_dim', 'vision_cfg', 'text_cfg'} - set(preset)
        if missing:
            raise KeyError(f'CLIP preset dict lacks {sorted(missing)}')
        return copy.deepcopy(dict(preset))
    if preset not in CLIP_PRESETS:
        raise KeyError(f'Unknown CLIP preset {preset!r}; known presets: {", ".join(CLIP_PRESETS)}')
    return copy.deepcopy(CLIP_PRESETS[preset])


def build_open_clip(preset: str | dict[str, Any]):
    """Build a randomly initialised :class:`open_clip.model.CLIP` from a preset.

    Args:
        preset (str | dict): Preset name or dict (see :func:`get_clip_preset`).

    Returns:
        open_clip.model.CLIP: The model in eval mode (callers switch to train as needed).
    """
    from open_clip.model import CLIP

    return CLIP(**get_clip_preset(preset)).eval()
