"""A CLIP whose text tower stays at a seeded random init: rebuild it, fingerprint it.

The scenes VLM trains its image tower against a text tower frozen at its random initialisation
(``CLIPContrastive(freeze_text_tower=True, text_init_seed=S)``). Those text weights (25 MB of
token embeddings) are then a function of the preset and the seed alone, so a compact file of the
trained tensors plus the seed rebuilds the full open_clip state dict
(:mod:`mmpat.apis.seeded_clip`), and a fingerprint over every tensor proves the rebuild is bit
for bit the trained model.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from .presets import build_open_clip


def is_text_key(key: str) -> bool:
    """True for the text tower's entries of an open_clip ``CLIP`` state dict.

    Everything outside ``visual.`` except the shared temperature ``logit_scale`` (token and
    positional embeddings, transformer, final norm, text projection, the causal mask buffer).
    """
    return not key.startswith('visual.') and key != 'logit_scale'


def seeded_text_state(preset: str | dict[str, Any], seed: int) -> dict[str, torch.Tensor]:
    """The text tower of ``build_open_clip(preset)`` built right after ``torch.manual_seed(seed)``.

    The global RNG state is restored afterwards, so calling this does not change any other
    random draw of the caller.

    Args:
        preset: CLIP preset name or dict.
        seed: The text tower's init seed.

    Returns:
        dict: The text entries (:func:`is_text_key`) of the state dict, CPU tensors.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = build_open_clip(preset)
    return {k: v.detach().clone() for k, v in model.state_dict().items() if is_text_key(k)}


def state_fingerprint(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the keys, dtypes, shapes and bytes of a state dict (sorted by key)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f'{key}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        raw = tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b''
        digest.update(raw)
    return digest.hexdigest()
