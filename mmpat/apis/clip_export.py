"""Export a pretrained CLIP (``CLIPContrastive``) to open_clip's own weights layout, and load it.

An export is two files:

- ``<name>.pth``: the :class:`open_clip.model.CLIP` ``state_dict`` (plain tensors; loads with
  ``torch.load(path, weights_only=True)``), so mmpat's CLIP backbone and text encoder load it
  exactly like real open_clip weights;
- ``<name>.json``: its preset, the ``open_clip.model.CLIP`` keyword arguments (``embed_dim``,
  ``vision_cfg``, ``text_cfg``, ``quick_gelu``).

Both are written to a temporary file in the same folder and renamed, so an interrupted export
never leaves a truncated file behind.

No vocabulary is written: an export is the weights of the CLIP towers (what a segmentor's
``backbone``/``text_encoder`` ``pretrained=`` reads), not a segmentor checkpoint, and its file
is a bare ``open_clip`` state dict that ``torch.load(weights_only=True)`` and
``CLIP.load_state_dict`` must read as is. A segmentor built on it takes its vocabulary from its
own checkpoint's ``meta.dataset_meta`` or its config's test dataset
(:mod:`mmpat.models.segmentors.config_vocabulary`).
"""

from __future__ import annotations

import json
import os
import os.path as osp
import tempfile
from typing import Any

import torch
from torch import nn

from mmpat.models.clip.presets import get_clip_preset
from mmpat.models.clip.weights import sidecar_path

CLIP_PREFIX = 'clip.'


def open_clip_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep the ``clip.`` weights of a ``CLIPContrastive`` state dict, without the prefix.

    Args:
        state: A ``CLIPContrastive`` (or DDP-wrapped, ``module.clip.``) state dict.

    Returns:
        dict: ``open_clip.model.CLIP`` state dict (contiguous, detached CPU tensors).

    Raises:
        KeyError: No ``clip.`` key (not a CLIPContrastive checkpoint).
    """
    out = {}
    for key, value in state.items():
        key = key[len('module.') :] if key.startswith('module.') else key
        if key.startswith(CLIP_PREFIX):
            out[key[len(CLIP_PREFIX) :]] = value.detach().cpu().contiguous().clone()
    if not out:
        raise KeyError(
            f'no "{CLIP_PREFIX}*" weights in the state dict (keys like {list(state)[:3]}): '
            'not a CLIPContrastive checkpoint'
        )
    return out


def _atomic_write(path: str, write) -> None:
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def save_clip_weights(
    state: dict[str, torch.Tensor], preset: str | dict[str, Any], out_path: str
) -> tuple[str, str]:
    """Write open_clip weights and their preset sidecar atomically.

    The weights are checked against the preset (every key of ``open_clip.model.CLIP(**preset)``
    present with its shape) before anything is written.

    Args:
        state: ``open_clip.model.CLIP`` state dict.
        preset: Preset name or dict.
        out_path: The ``.pth`` path; the preset goes to the same name with ``.json``.

    Returns:
        tuple[str, str]: The weights and sidecar paths.

    Raises:
        ValueError: The weights do not fit the preset.
    """
    from open_clip.model import CLIP

    preset = get_clip_preset(preset)
    reference = CLIP(**preset).state_dict()
    missing = sorted(set(reference) - set(state))
    unexpected = sorted(set(state) - set(reference))
    shapes = [k for k in reference if k in state and state[k].shape != reference[k].shape]
    if missing or unexpected or shapes:
        raise ValueError(
            f'weights do not fit the preset: missing {missing[:3]}, unexpected {unexpected[:3]}, '
            f'other shapes {shapes[:3]}'
        )
    state = {k: state[k] for k in reference}  # open_clip's key order
    json_path = sidecar_path(out_path)
    text = json.dumps(preset, indent=1, sort_keys=True).encode()
    # Weights first, sidecar last: a sidecar implies its weights are complete.
    _atomic_write(out_path, lambda f: torch.save(state, f))
    _atomic_write(json_path, lambda f: f.write(text))
    return out_path, json_path


def export_clip_weights(
    model: nn.Module, out_path: str, *, preset: str | dict[str, Any] | None = None
) -> tuple[str, str]:
    """Export a (possibly DDP-wrapped) ``CLIPContrastive`` to open_clip's layout.

    Args:
        model: The model (has ``.clip`` and ``.preset``).
        out_path: Weights path (``.pth``); the preset goes to the ``.json`` next to it.
        preset: Override of the model's preset (default: ``model.preset``).

    Returns:
        tuple[str, str]: The weights and sidecar paths.
    """
    model = getattr(model, 'module', model)
    if not hasattr(model, 'clip'):
        raise TypeError(f'{type(model).__name__} has no "clip" attribute (not CLIPContrastive)')
    state = {k: v.detach().cpu().clone() for k, v in model.clip.state_dict().items()}
    return save_clip_weights(state, preset if preset is not None else model.preset, out_path)


def load_clip_export(weights_path: str, *, preset: str | dict[str, Any] | None = None):
    """Build an :class:`open_clip.model.CLIP` from an export (weights + sidecar preset).

    Args:
        weights_path: The ``.pth`` file.
        preset: Preset name or dict (default: read from the ``.json`` sidecar).

    Returns:
        open_clip.model.CLIP: In eval mode.

    Raises:
        FileNotFoundError: The weights, or the sidecar when no preset is given.
    """
    from open_clip.model import CLIP

    if not osp.isfile(weights_path):
        raise FileNotFoundError(
            f'CLIP weights {weights_path} not found; train them with '
            '`python tools/train.py configs/clip/clip-tiny_scenes.py` or export a checkpoint with '
            '`python tools/model_converters/export_clip.py CHECKPOINT OUT.pth`'
        )
    if preset is None:
        json_path = sidecar_path(weights_path)
        if not osp.isfile(json_path):
            raise FileNotFoundError(
                f'preset sidecar {json_path} not found next to {weights_path}; pass the preset '
                'explicitly'
            )
        with open(json_path) as f:
            preset = json.load(f)
    model = CLIP(**get_clip_preset(preset))
    model.load_state_dict(torch.load(weights_path, map_location='cpu', weights_only=True))
    return model.eval()
