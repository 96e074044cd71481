"""Install the pure-PyTorch ops as the ``mmcv.ops`` package when compiled mmcv is missing.

``mmcv-lite`` ships ``mmcv/ops`` but its ``__init__`` (and most op files) load the compiled
``mmcv._ext``. The fallback package installed here resolves three kinds of names:

* ops mmpat implements (:data:`OURS`: submodules of this package, aliased as
  ``mmcv.ops.<name>``);
* mmcv-lite's own op files that are already pure PyTorch (:data:`UPSTREAM_PURE`), loaded
  from mmcv's folder;
* ops mmdet imports at module level that mmpat does not implement (:data:`IMPORT_ONLY`):
  they import, and raise ``ModuleNotFoundError`` naming the op when built or called, so
  that ``import mmdet.models`` (hence mmseg's Mask2Former / MaskFormer heads) works.

Every other name, as an attribute or a submodule, raises ``ModuleNotFoundError`` naming
the op at import, which mmseg catches for its optional heads.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
from collections.abc import Callable
from pathlib import Path

from torch import nn

_PACKAGE = 'mmcv.ops'

# Submodules of this package, installed as mmcv.ops.<name>; each lists its names in __all__.
OURS = (
    'deform_conv',
    'focal_loss',
    'masked_conv',
    'modulated_deform_conv',
    'multi_scale_deform_attn',
    'nms',
    'psa_mask',
    'roi_align',
)

# mmcv-lite files that need no compiled op: submodule -> the names mmcv.ops exports from it.
UPSTREAM_PURE = {
    'cc_attention': ('CrissCrossAttention',),
    'corner_pool': ('CornerPool',),
    'merge_cells': ('BaseMergeCell', 'ConcatCell', 'GlobalPoolingCell', 'SumCell'),
    'point_sample': ('SimpleRoIAlign', 'point_sample', 'rel_roi_point_to_rel_img_point'),
    'saconv': ('SAConv2d',),
}

# Imported at module level by mmdet, not implemented: importable, fail when used.
IMPORT_ONLY = {
    'carafe': ('CARAFE', 'CARAFENaive', 'CARAFEPack', 'carafe', 'carafe_naive'),
    'roi_pool': ('RoIPool', 'roi_pool'),
}

# Registry names mmcv's op files register into mmengine's MODELS.
REGISTERED = {
    'DCN': ('deform_conv', 'DeformConv2dPack'),
    'DCNv2': ('modulated_deform_conv', 'ModulatedDeformConv2dPack'),
    'MultiScaleDeformableAttention': ('multi_scale_deform_attn', 'MultiScaleDeformableAttention'),
}


def missing_op_error(name: str) -> ModuleNotFoundError:
    """The error for an ``mmcv.ops`` name that needs mmcv's compiled extension."""
    return ModuleNotFoundError(
        f"mmcv.ops.{name} needs mmcv's compiled extension (mmcv._ext), which mmcv-lite does "
        "not ship, and mmpat's pure-PyTorch mmcv.ops has no version of it (see mmpat's "
        'docs/compat.md for the ops it provides). Install a full mmcv build to use it.',
        name=f'{_PACKAGE}.{name}',
    )


def stand_in(name: str) -> Callable | type[nn.Module]:
    """A class or function named ``name`` that raises :func:`missing_op_error` when used."""
    if name[:1].isupper():

        def __init__(self, *args, **kwargs):
            raise missing_op_error(name)

        return type(name, (nn.Module,), {'__init__': __init__, '__module__': _PACKAGE})

    def missing(*args, **kwargs):
        raise missing_op_error(name)

    missing.__name__ = missing.__qualname__ = name
    return missing


def compiled_mmcv_available() -> bool:
    """Whether a compiled ``mmcv._ext`` can be imported."""
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


class _MissingSubmoduleFinder(importlib.abc.MetaPathFinder):
    """Refuses ``mmcv.ops.<x>`` submodules that need the compiled extension, by name."""

    def find_spec(self, fullname, path=None, target=None):
        package = sys.modules.get(_PACKAGE)
        if not fullname.startswith(_PACKAGE + '.') or not _is_fallback(package):
            return None
        submodule = fullname[len(_PACKAGE) + 1 :].split('.')[0]
        if submodule in UPSTREAM_PURE:
            return None  # the normal path finder loads it from mmcv's own ops folder
        raise missing_op_error(submodule)


def _is_fallback(module: types.ModuleType | None) -> bool:
    return bool(getattr(module, '__mmpat_fallback__', False))


def _missing_attribute(name: str):
    if name.startswith('__') and name.endswith('__'):
        # inspect / hasattr / copy probe dunders: answer as for any module.
        raise AttributeError(name)
    raise missing_op_error(name)


def _register() -> None:
    from mmengine.registry import MODELS

    for registry_name, (submodule, attribute) in REGISTERED.items():
        if registry_name not in MODELS.module_dict:
            cls = getattr(sys.modules[f'{_PACKAGE}.{submodule}'], attribute)
            MODELS.register_module(name=registry_name, module=cls)


def _build_package() -> types.ModuleType:
    import mmcv

    package = types.ModuleType(_PACKAGE, __doc__)
    package.__mmpat_fallback__ = True
    # A package whose path is mmcv-lite's ops folder: pure-PyTorch files load from there.
    package.__path__ = [str(Path(mmcv.__file__).parent / 'ops')]
    package.__spec__ = importlib.machinery.ModuleSpec(_PACKAGE, None, is_package=True)
    package.__spec__.submodule_search_locations = package.__path__
    sys.modules[_PACKAGE] = package
    mmcv.ops = package
    exported: list[str] = []
    for submodule in OURS:
        module = importlib.import_module(f'{__package__}.{submodule}')
        sys.modules[f'{_PACKAGE}.{submodule}'] = module
        exported += _export(package, submodule, module, module.__all__)
    for submodule, names in IMPORT_ONLY.items():
        module = types.ModuleType(f'{_PACKAGE}.{submodule}', f'Stand-ins: {", ".join(names)}.')
        module.__dict__.update({name: stand_in(name) for name in names})
        module.__all__ = list(names)
        sys.modules[module.__name__] = module
        exported += _export(package, submodule, module, names)
    # Loaded last: they import mmcv.cnn, which imports mmcv.ops.multi_scale_deform_attn.
    for submodule, names in UPSTREAM_PURE.items():
        module = importlib.import_module(f'{_PACKAGE}.{submodule}')
        exported += _export(package, submodule, module, names)
    package.__all__ = sorted(exported)
    package.__getattr__ = _missing_attribute
    return package


def _export(
    package: types.ModuleType, submodule: str, module: types.ModuleType, names
) -> list[str]:
    # The names win over a submodule of the same name (mmcv.ops.nms is the function).
    setattr(package, submodule, module)
    package.__dict__.update({name: getattr(module, name) for name in names})
    return list(names)


def install_fallback() -> bool:
    """Install the fallback as ``mmcv.ops`` unless compiled mmcv is there (idempotent).

    Returns:
        bool: True if the fallback is (now) in place, False if compiled mmcv is used.
    """
    current = sys.modules.get(_PACKAGE)
    if current is not None:
        return _is_fallback(current)
    if compiled_mmcv_available():
        return False
    _build_package()
    if not any(isinstance(finder, _MissingSubmoduleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MissingSubmoduleFinder())
    _register()
    return True
