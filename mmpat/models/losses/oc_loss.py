"""``OCLoss``: MVP-SEG's orthogonal constraint between the segmentation prompts."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class OCLoss(nn.Module):
    """Sum over prompt pairs of ``|cos(mean_ctx(p_i), mean_ctx(p_j))|`` (i < j).

    Pushes the k segmentation prompts to look at different views of a class: the mean of
    each prompt's context vectors is one direction, and the loss is zero exactly when these
    directions are pairwise orthogonal. One prompt gives zero.

    Args:
        loss_weight (float): Multiplier of the loss.
        eps (float): Norm floor of the cosine.
        loss_name (str): Key of the loss in the loss dict (starts with ``loss_``).
    """

    def __init__(
        self, loss_weight: float = 1.0, eps: float = 1e-8, loss_name: str = 'loss_oc'
    ) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.eps = eps
        self._loss_name = loss_name

    def forward(self, prompt_ctx: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            prompt_ctx (Tensor): Context vectors of the segmentation prompts [k, n_ctx, D].

        Returns:
            Tensor: Scalar loss.
        """
        if prompt_ctx.dim() != 3:
            raise ValueError(f'prompt_ctx must be [k, n_ctx, D], got {tuple(prompt_ctx.shape)}')
        means = F.normalize(prompt_ctx.mean(dim=1), dim=-1, eps=self.eps)  # [k, D]
        cosine = means @ means.t()
        pairs = torch.triu(torch.ones_like(cosine, dtype=torch.bool), diagonal=1)
        return self.loss_weight * cosine[pairs].abs().sum()

    @property
    def loss_name(self) -> str:
        return self._loss_name
