"""Safe checkpoint loading for mmengine on torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True``, which refuses the Python objects that
mmengine runner checkpoints hold (``HistoryBuffer`` in the message hub, numpy arrays and
scalars). mmengine 0.10.7 calls ``torch.load`` without arguments, so resuming fails.

We keep the safe unpickler and allow-list exactly the types runner checkpoints contain.
The weights-only unpickler only *calls* allow-listed callables, so ``builtins.getattr``
(needed by numpy 2 pickles) can only look up attributes, never run arbitrary code.

Third-party pickles with other globals are refused with a message naming the global.
To load a file you trust, set ``MMPAT_TRUST_CHECKPOINTS=1`` (the tools'
``--trust-checkpoint`` flag sets it), which loads with ``weights_only=False``.
"""

from __future__ import annotations

import builtins
import collections
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Any

import numpy as np
import torch

TRUST_ENV = 'MMPAT_TRUST_CHECKPOINTS'


class CheckpointError(RuntimeError):
    """A checkpoint file could not be read (missing, truncated, corrupted or refused)."""


def _numpy_globals() -> list[Any]:
    dtypes = [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith('DType')]
    core = getattr(np, '_core', None) or np.core
    return [
        np.ndarray,
        np.dtype,
        core.multiarray._reconstruct,
        core.multiarray.scalar,
        *dtypes,
    ]


def runner_checkpoint_globals() -> list[Any]:
    """The allow-list: every non-tensor global found in mmengine/mmseg runner checkpoints."""
    from mmengine.logging.history_buffer import HistoryBuffer

    return [
        HistoryBuffer,
        builtins.getattr,
        collections.OrderedDict,
        collections.defaultdict,
        builtins.set,
        builtins.frozenset,
        builtins.slice,
        *_numpy_globals(),
    ]


def trust_enabled() -> bool:
    """Whether the user opted in to loading arbitrary (trusted) pickles."""
    return os.environ.get(TRUST_ENV, '').strip().lower() in {'1', 'true', 'yes', 'on'}


def _refusal_message(filename: str, error: Exception) -> str:
    match = re.search(r'GLOBAL (\S+)', str(error))
    what = f'the global `{match.group(1)}`' if match else 'an object'
    return (
        f'Refusing to load checkpoint {filename!r}: it contains {what}, which is not on the '
        'allow-list of types that runner checkpoints hold, and unpickling it could run '
        'arbitrary code. If you trust this file, load it with --trust-checkpoint or set '
        f'{TRUST_ENV}=1 in the environment. (torch said: {str(error).splitlines()[0]})'
    )


def load_checkpoint_file(filename: str, map_location: Any = None) -> Any:
    """Load a ``torch.save`` file safely.

    Args:
        filename (str): Local path.
        map_location: As for :func:`torch.load`.

    Returns:
        The loaded object (usually a dict).

    Raises:
        FileNotFoundError: The file does not exist.
        CheckpointError: The file is truncated/corrupted, or holds non-allow-listed globals.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint {filename!r} does not exist (or is not a file).')
    trusted = trust_enabled()
    try:
        with torch.serialization.safe_globals(runner_checkpoint_globals()):
            return torch.load(filename, map_location=map_location, weights_only=not trusted)
    except pickle.UnpicklingError as error:
        refused = ('GLOBAL', 'unrecognized function', 'Can only create new object')
        if not trusted and any(marker in str(error) for marker in refused):
            raise CheckpointError(_refusal_message(filename, error)) from None
        raise CheckpointError(_corrupt_message(filename, error)) from None
    except (EOFError, zipfile.BadZipFile, RuntimeError, ValueError) as error:
        raise CheckpointError(_corrupt_message(filename, error)) from None


def _corrupt_message(filename: str, error: Exception) -> str:
    size = osp.getsize(filename)
    return (
        f'Cannot read checkpoint {filename!r} ({size} bytes): the file is truncated or '
        'corrupted (an interrupted save or copy?). Re-copy it or pick an earlier checkpoint. '
        f'(torch said: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ""})'
    )


def install_safe_loader() -> None:
    """Route mmengine's local-file checkpoint loading through :func:`load_checkpoint_file`."""
    from mmengine.runner.checkpoint import CheckpointLoader

    if getattr(CheckpointLoader._schemes.get(''), '__mmpat__', False):
        return

    def load_from_local(filename: str, map_location: Any = None) -> Any:
        return load_checkpoint_file(filename, map_location)

    load_from_local.__mmpat__ = True
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
