"""compose_assignments: the stages' product, with gradient; shape errors."""

from __future__ import annotations

import pytest
import torch

from mmpat.models.utils import compose_assignments


def test_compose_is_the_stage_product_and_keeps_columns_normalised():
    g = torch.Generator().manual_seed(0)
    first = torch.randn(2, 4, 10, generator=g).softmax(dim=1).requires_grad_(True)
    second = torch.randn(2, 3, 4, generator=g).softmax(dim=1)
    merged = compose_assignments([first, second])
    assert merged.shape == (2, 3, 10)
    for b in range(2):  # token n reaches final group s through every first-stage group
        for s in range(3):
            for n in range(10):
                expected = sum(float(second[b, s, k] * first[b, k, n]) for k in range(4))
                assert float(merged[b, s, n]) == pytest.approx(expected, rel=1e-5)
    assert torch.allclose(merged.sum(dim=1), torch.ones(2, 10))
    merged.sum().backward()
    assert first.grad is not None
    assert compose_assignments([first]) is first


def test_compose_errors():
    with pytest.raises(ValueError, match='at least one stage'):
        compose_assignments([])
    with pytest.raises(ValueError, match='stage 1 assigns 5 inputs but stage 0 has 4 groups'):
        compose_assignments([torch.rand(1, 4, 10), torch.rand(1, 2, 5)])
