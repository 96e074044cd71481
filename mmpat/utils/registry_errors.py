"""Turn mmengine's "X is not in the registry" errors into actionable messages."""

from __future__ import annotations

import difflib
import re

from mmengine.registry import Registry

_NOT_IN_REGISTRY = re.compile(
    r'(?P<type>[\w.]+) is not in the (?P<scope>[\w.]+)::(?P<name>[\w ]+) registry'
)


def _registries() -> list[Registry]:
    import mmengine.registry as engine_registries
    import mmseg.registry as seg_registries

    found = []
    for module in (seg_registries, engine_registries):
        found += [obj for obj in vars(module).values() if isinstance(obj, Registry)]
    return found


def registered_names(registry: Registry) -> list[str]:
    """All names visible from ``registry``: its own, its parents' and its children's."""
    names: set[str] = set()
    stack = [registry]
    node = registry.parent
    while node is not None:
        stack.append(node)
        node = node.parent
    seen = set()
    while stack:
        reg = stack.pop()
        if id(reg) in seen:
            continue
        seen.add(id(reg))
        reg.import_from_location()
        names.update(reg.module_dict)
        stack.extend(reg.children.values())
    return sorted(names)


def explain_registry_error(error: BaseException) -> str | None:
    """A clear message for an unknown ``type=`` error, or None if ``error`` is another error.

    Args:
        error: Any exception raised while building from a config.

    Returns:
        str | None: The message, naming the registry and the closest registered names.
    """
    match = _NOT_IN_REGISTRY.search(str(error))
    if match is None:
        return None
    wanted, scope, name = match['type'], match['scope'], match['name'].strip()
    candidates: list[str] = []
    for registry in _registries():
        if registry.name == name:
            candidates = registered_names(registry)
            break
    close = difflib.get_close_matches(wanted, candidates, n=5, cutoff=0.5)
    hint = f' Closest registered names: {", ".join(close)}.' if close else ''
    return (
        f'Unknown type {wanted!r} in the {scope}::{name} registry.{hint} '
        "If it is an mmpat part, add custom_imports = dict(imports=['mmpat'], "
        'allow_failed_imports=False) to the config.'
    )
