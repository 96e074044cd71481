"""``FusedMaskNLLLoss``: pixel negative log-likelihood of masks given as log-probabilities."""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class FusedMaskNLLLoss(nn.Module):
    """``mean over labelled pixels of -log m[label]`` for masks ``m`` given as ``log m``.

    Unlike mmseg's ``CrossEntropyLoss`` this does not renormalise the scores: MVP-SEG's final
    masks ``m = softmax(fused) * g`` (the GPR scores ``g``) do not sum to one over classes,
    and the loss is on ``log m`` itself, so it also raises ``g`` of the classes present.

    Args:
        loss_weight (float): Multiplier of the loss.
        loss_name (str): Key of the loss in the loss dict.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_seg') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(
        self,
        log_masks: Tensor,
        label: Tensor,
        weight: Tensor | None = None,
        ignore_index: int = 255,
        **kwargs,
    ) -> Tensor:
        """Compute the loss.

        Args:
            log_masks (Tensor): Log-probabilities [B, C, H, W].
            label (Tensor): Labels [B, H, W] (``ignore_index`` skipped).
            weight (Tensor, optional): Pixel weights [B, H, W] (mmseg's sampler).
            ignore_index (int): Label to skip.

        Returns:
            Tensor: Scalar loss (zero when no pixel is labelled).
        """
        loss = F.nll_loss(log_masks, label, ignore_index=ignore_index, reduction='none')
        valid = (label != ignore_index).to(loss.dtype)
        if weight is not None:
            valid = valid * weight
        return self.loss_weight * (loss * valid).sum() / valid.sum().clamp(min=1.0)

    @property
    def loss_name(self) -> str:
        return self._loss_name
