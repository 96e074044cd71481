"""Make the OpenMMLab stack work on modern PyTorch; applied on ``import mmpat``.

1. ``mmcv_ops``: pure-PyTorch ``mmcv.ops`` fallbacks when compiled mmcv is absent.
2. ``checkpoint``: runner checkpoints load and resume on torch >= 2.6, safely.
3. ``distributed``: ``--launcher pytorch`` works on CPU-only machines (gloo).
4. ``inferencer``: ``MMSegInferencer`` keeps the synonyms of a checkpoint's vocabulary (installed
   by ``import mmpat`` after registration: it needs mmseg imported).
"""

from .checkpoint import (
    TRUST_ENV,
    CheckpointError,
    install_safe_loader,
    load_checkpoint_file,
    runner_checkpoint_globals,
)
from .distributed import configure_runtime, install_cpu_launcher
from .inferencer import install_inferencer_vocabulary
from .mmcv_ops import compiled_mmcv_available, install_fallback


def apply() -> None:
    """Apply every compatibility fix (idempotent). Must run before mmseg is imported."""
    install_fallback()
    install_safe_loader()
    install_cpu_launcher()


__all__ = [
    'TRUST_ENV',
    'CheckpointError',
    'apply',
    'compiled_mmcv_available',
    'configure_runtime',
    'install_fallback',
    'install_inferencer_vocabulary',
    'load_checkpoint_file',
    'runner_checkpoint_globals',
]
