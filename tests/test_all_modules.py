"""Every registered mmpat module builds from a tiny config, runs, back-propagates and gives
finite outputs (cases in ``tests/module_cases``, importable as ``module_cases``)."""

from __future__ import annotations

import mmseg.registry as seg_registry
import pytest
import torch
from module_cases import ModuleCase, all_cases

CASES = all_cases()
REGISTRIES = ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS')


def mmpat_registered() -> set[tuple[str, str]]:
    found = set()
    for name in REGISTRIES:
        registry = getattr(seg_registry, name)
        for key, obj in registry.module_dict.items():
            module = getattr(obj, '__module__', '')
            if module.startswith(('mmpat.', 'projects.')):  # ours and our projects'
                found.add((name, key))
    return found


def floating_tensors(output) -> list[torch.Tensor]:
    if torch.is_tensor(output):
        return [output] if output.is_floating_point() else []
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in floating_tensors(item)]
    for attr in ('seg_logits', 'pred_sem_seg'):
        if hasattr(output, attr):
            return floating_tensors(getattr(output, attr).data)
    return []


def test_every_registered_module_has_a_case():
    covered = {(case.registry, case.cfg['type']) for case in CASES}
    covered |= {
        (case.registry, case.cfg['extension']['type']) for case in CASES if 'extension' in case.cfg
    }
    missing = mmpat_registered() - covered
    assert not missing, f'registered mmpat modules without a tests/module_cases entry: {missing}'


def test_every_case_has_a_check():
    unchecked = [case.id for case in CASES if case.check is None]
    assert not unchecked, f'cases without a check of their documented output: {unchecked}'


@pytest.mark.parametrize('case', CASES, ids=[case.id for case in CASES])
def test_module_case(case: ModuleCase):
    torch.manual_seed(0)
    module = getattr(seg_registry, case.registry).build(dict(case.cfg))
    args, kwargs = case.make_inputs()
    output = getattr(module, case.method)(*args, **kwargs)
    tensors = floating_tensors(output)
    assert all(torch.isfinite(t).all() for t in tensors), 'non-finite output'
    if case.backward:
        with_grad = [t for t in tensors if t.requires_grad]
        assert with_grad, 'backward=True but no output requires grad'
        sum(t.float().sum() for t in with_grad).backward()
        trainable = [p for p in module.parameters() if p.requires_grad]
        grads = [p.grad for p in trainable if p.grad is not None]
        assert grads or not trainable, 'no trainable parameter received a gradient'
        assert all(torch.isfinite(g).all() for g in grads)
    # A check asserts (with a message); a returned value (a bool, a tensor) would be ignored.
    assert case.check(output) is None, (
        f'the check of {case.id} returned a value: checks must assert, not return'
    )
