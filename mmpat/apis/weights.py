"""Loading a segmentor checkpoint with a report of keys that do not fit, and their likely cause."""

from __future__ import annotations

from collections import Counter

import torch
from torch import nn

from mmpat.compat import load_checkpoint_file


def _likely_cause(missing: list[str], unexpected: list[str], model_keys: set[str]) -> str:
    if unexpected and all(k.startswith('module.') for k in unexpected):
        return 'the checkpoint was saved from a DDP-wrapped model (keys start with "module.")'
    if unexpected and any(k.startswith(('visual.', 'token_embedding')) for k in unexpected):
        return (
            'this looks like a CLIP weights file: give it as the backbone/text encoder '
            '`pretrained=` in the config, not as the segmentor checkpoint'
        )
    prefixes = Counter(k.split('.')[0] for k in missing)
    if prefixes:
        top = ', '.join(p for p, _ in prefixes.most_common(3))
        return f'the checkpoint has no weights for {top} (a different model or config?)'
    return 'the checkpoint comes from a different model'


def load_model_weights(model: nn.Module, checkpoint: str, *, map_location: str = 'cpu') -> dict:
    """Load a runner checkpoint or a plain state dict into ``model``.

    Frozen weights that come from ``pretrained=`` files may be absent from the checkpoint;
    every other mismatch is reported.

    Args:
        model: The built model.
        checkpoint: Path of a ``.pth`` file (runner checkpoint or state dict).
        map_location: Device to load tensors to.

    Returns:
        dict: The checkpoint's ``meta`` (may be empty).

    Raises:
        ValueError: Shapes that do not fit, or no key in common, with the likely cause.
    """
    loaded = load_checkpoint_file(checkpoint, map_location=map_location)
    state = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f'{checkpoint!r} holds no state dict of tensors.')
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if len(unexpected) == len(state):
        raise ValueError(
            f'No key of {checkpoint!r} fits the model ({len(state)} keys, e.g. '
            f'{unexpected[:3]}): {_likely_cause(missing, unexpected, set(own))}.'
        )
    wrong_shape = [
        f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
        for k in sorted(set(state) & set(own))
        if state[k].shape != own[k].shape
    ]
    if wrong_shape:
        raise ValueError(
            f'{len(wrong_shape)} weights of {checkpoint!r} have other shapes than the model '
            '(a checkpoint of another preset/variant?): ' + '; '.join(wrong_shape[:5])
        )
    model.load_state_dict(state, strict=False)
    if missing or unexpected:
        import warnings

        warnings.warn(
            f'Loaded {checkpoint!r} with {len(missing)} missing keys (e.g. {missing[:3]}) and '
            f'{len(unexpected)} unexpected keys (e.g. {unexpected[:3]}): '
            f'{_likely_cause(missing, unexpected, set(own))}.',
            stacklevel=2,
        )
    return loaded.get('meta', {}) if isinstance(loaded, dict) else {}
