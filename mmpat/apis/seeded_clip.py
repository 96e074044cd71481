"""Compact CLIP files: the trained tensors of a CLIP whose text tower is a seeded random init.

A compact file (``torch.save`` of plain tensors and numbers; loads with ``weights_only=True``)
holds ``'trained'`` (every non-text entry: the image tower and ``logit_scale``),
``'text_init_seed'``, ``'preset'`` (``open_clip.model.CLIP`` keyword arguments) and
``'fingerprint'`` (:func:`~mmpat.models.clip.seeded_text.state_fingerprint` of the full state
dict). :func:`unpack_seeded_clip` rebuilds the text tower from the seed and refuses the result
unless its fingerprint is the recorded one, so what it writes is bit for bit the model that was
trained (then an ordinary open_clip export: :mod:`mmpat.apis.clip_export`).
"""

from __future__ import annotations

import os.path as osp
from typing import Any

import torch

from mmpat.apis.clip_export import _atomic_write, save_clip_weights
from mmpat.models.clip.presets import get_clip_preset
from mmpat.models.clip.seeded_text import is_text_key, seeded_text_state, state_fingerprint

COMPACT_KEYS = ('trained', 'text_init_seed', 'preset', 'fingerprint')


def pack_seeded_clip(
    state: dict[str, torch.Tensor], preset: str | dict[str, Any], seed: int, out_path: str
) -> dict[str, Any]:
    """Write the compact file of a full open_clip state dict whose text tower is seed ``seed``.

    Args:
        state: Full ``open_clip.model.CLIP`` state dict (e.g. an export's ``.pth``).
        preset: Its preset name or dict.
        seed: The text tower's init seed (``CLIPContrastive(text_init_seed=...)``).
        out_path: The compact file to write (atomically).

    Returns:
        dict: What was written.

    Raises:
        ValueError: The text tower is not the seeded init (names the first differing entry).
    """
    preset = get_clip_preset(preset)
    text = seeded_text_state(preset, seed)
    for key, value in text.items():
        if key not in state or not torch.equal(state[key].cpu(), value):
            raise ValueError(
                f'text entry {key!r} is not the seed-{seed} init of the preset: the text tower '
                'was trained or initialised another way (CLIPContrastive(text_init_seed=...))'
            )
    compact = {
        'trained': {k: v.detach().cpu().clone() for k, v in state.items() if not is_text_key(k)},
        'text_init_seed': int(seed),
        'preset': preset,
        'fingerprint': state_fingerprint(state),
    }
    _atomic_write(out_path, lambda f: torch.save(compact, f))
    return compact


def read_compact(path: str) -> dict[str, Any]:
    """Read a compact file (checks its keys; names the file)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'compact CLIP file {path} not found')
    compact = torch.load(path, map_location='cpu', weights_only=True)
    missing = [k for k in COMPACT_KEYS if not isinstance(compact, dict) or k not in compact]
    if missing:
        raise ValueError(f'{path} is not a compact CLIP file (no {missing}): see {__name__}')
    return compact


def unpack_seeded_clip(path: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Rebuild the full open_clip state dict of a compact file and verify its fingerprint.

    Args:
        path: The compact file.

    Returns:
        tuple: The full state dict and the preset.

    Raises:
        ValueError: The rebuilt weights differ from the trained ones (e.g. another open_clip or
            torch changed the text tower's random init): retrain with the shipped command.
    """
    compact = read_compact(path)
    state = dict(compact['trained'])
    state.update(seeded_text_state(compact['preset'], compact['text_init_seed']))
    found = state_fingerprint(state)
    if found != compact['fingerprint']:
        raise ValueError(
            f'{path}: the text tower rebuilt from seed {compact["text_init_seed"]} differs from '
            f'the trained one (fingerprint {found[:12]} != {compact["fingerprint"][:12]}); this '
            'open_clip / torch initialises differently: train the VLM instead '
            '(python tools/train.py configs/clip/clip-tiny_scenes.py)'
        )
    return state, compact['preset']


def unpack_seeded_clip_to(path: str, out_path: str) -> tuple[str, str]:
    """Rebuild a compact file into an open_clip export (``.pth`` + ``.json`` preset sidecar)."""
    state, preset = unpack_seeded_clip(path)
    return save_clip_weights(state, preset, out_path)
