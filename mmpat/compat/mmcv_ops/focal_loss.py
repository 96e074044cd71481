"""``mmcv.ops.focal_loss``: the sigmoid focal loss of mmcv's compiled op, in PyTorch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['sigmoid_focal_loss']


def sigmoid_focal_loss(
    input: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    alpha: float = 0.25,
    weight: Tensor | None = None,
    reduction: str = 'mean',
) -> Tensor:
    """Sigmoid focal loss with class-index targets, as mmcv's compiled op computes it.

    Args:
        input (Tensor): Logits of shape (N, C).
        target (Tensor): Class indices of shape (N,); ``C`` (or any id outside [0, C)) means
            "no positive class" for that row.
        gamma (float): Focusing parameter.
        alpha (float): Weight of the positive term.
        weight (Tensor, optional): Per-sample weight of shape (N,).
        reduction (str): ``'none'`` (N, C), ``'mean'`` (sum / N) or ``'sum'``.

    Returns:
        Tensor: The loss.
    """
    num_classes = input.size(1)
    classes = torch.arange(num_classes, device=input.device)
    positive = (target.long().unsqueeze(1) == classes.unsqueeze(0)).to(input.dtype)
    prob = input.sigmoid()
    log_p = F.logsigmoid(input)
    log_not_p = F.logsigmoid(-input)
    loss = -alpha * (1 - prob).pow(gamma) * log_p * positive
    loss = loss - (1 - alpha) * prob.pow(gamma) * log_not_p * (1 - positive)
    if weight is not None:
        loss = loss * weight.reshape(-1, 1)
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if reduction == 'mean':
        return loss.sum() / input.size(0)
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
