"""A pure-PyTorch ``mmcv.ops`` for mmcv-lite (see :mod:`.fallback` and docs/compat.md).

Each submodule mirrors one ``mmcv.ops`` file and is importable on its own, including
when compiled mmcv is installed (then only mmcv's own ops are used by mmseg/mmdet).
"""

from .fallback import compiled_mmcv_available, install_fallback

__all__ = ['compiled_mmcv_available', 'install_fallback']
