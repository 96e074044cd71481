"""Scale the gradient that flows through a tensor, leaving its value unchanged."""

from __future__ import annotations

from torch import Tensor


def scale_gradient(tensor: Tensor, scale: float) -> Tensor:
    """Identity in the forward pass; multiplies the gradient by ``scale`` in the backward pass.

    ``scale = 0`` detaches, ``scale = 1`` is the identity. PAT couples its semantic branch to
    the tokenizer through it (``SemanticFusionHead(token_grad_scale=...)``).

    Args:
        tensor: Any tensor.
        scale: Gradient multiplier.

    Returns:
        Tensor: Same value as ``tensor``.
    """
    if scale == 1.0:
        return tensor
    if scale == 0.0:
        return tensor.detach()
    return tensor * scale + tensor.detach() * (1.0 - scale)
