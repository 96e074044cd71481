"""Tiny build-and-run cases for every registered mmpat module.

Each file in this folder defines ``CASES: list[ModuleCase]``. ``tests/test_all_modules.py``
builds every case from its config through the mmseg registry, runs it, back-propagates
through its floating outputs, checks they are finite, runs the case's ``check`` (which must
``assert``, with a message, and return None), and fails if a registered mmpat module has no
case here.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class ModuleCase:
    """One registered module, built tiny.

    Attributes:
        cfg: Config dict with ``type`` (built with the registry named by ``registry``).
        make_inputs: Returns ``(args, kwargs)`` for ``method`` (called after building).
        method: Name of the method to call (default: ``__call__``, i.e. forward).
        registry: Attribute name in ``mmseg.registry`` ('MODELS', 'DATASETS', 'METRICS', ...).
        backward: Whether to back-propagate through the floating outputs.
        check: Asserts the output (the shapes documented by the module) and returns None;
            every case has one (``tests/test_all_modules.py`` fails a case without one and a
            check that returns a value).
    """

    cfg: dict[str, Any]
    make_inputs: Callable[[], tuple[tuple, dict]] = lambda: ((), {})
    method: str = '__call__'
    registry: str = 'MODELS'
    backward: bool = True
    check: Callable[[Any], None] | None = None
    id: str = field(default='')

    def __post_init__(self) -> None:
        self.id = self.id or self.cfg['type']


def all_cases() -> list[ModuleCase]:
    """Collect ``CASES`` from every module of this package."""
    cases: list[ModuleCase] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f'{__name__}.{info.name}')
        cases.extend(getattr(module, 'CASES', []))
    return cases
