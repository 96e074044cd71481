"""Composition of GroupViT's per-stage token-to-group assignments."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor


def compose_assignments(assigns: Sequence[Tensor]) -> Tensor:
    """Assignment of the first stage's input tokens to the last stage's groups.

    Stage i assigns its N_i inputs to S_i groups ([B, S_i, N_i], columns sum to 1 over the
    groups) and its groups are the next stage's inputs, so the product of the stages maps the
    first-stage tokens to the final groups (columns still sum to 1). Gradients flow through
    every stage; detach the inputs for a fixed assignment.

    Args:
        assigns (Sequence[Tensor]): Per stage, [B, S_i, N_i] with N_{i+1} = S_i.

    Returns:
        Tensor: [B, S_last, N_first].
    """
    if not assigns:
        raise ValueError('compose_assignments needs at least one stage assignment')
    merged = assigns[0]
    for stage, assign in enumerate(assigns[1:], start=1):
        if assign.shape[-1] != merged.shape[-2]:
            raise ValueError(
                f'stage {stage} assigns {assign.shape[-1]} inputs but stage {stage - 1} has '
                f'{merged.shape[-2]} groups'
            )
        merged = assign @ merged
    return merged
