"""``PresenceBCELoss``: image-level class presence, the loss of MVP-SEG's global prompt."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


def presence_targets(labels: Tensor, num_classes: int, ignore_index: int = 255) -> Tensor:
    """Which classes each label map contains.

    Args:
        labels (Tensor): Label maps [B, H, W] (``ignore_index`` does not count).
        num_classes (int): C.
        ignore_index (int): Label that names no class.

    Returns:
        Tensor: [B, C] float, 1 where the class occurs in the image.
    """
    targets = labels.new_zeros(labels.shape[0], num_classes, dtype=torch.float32)
    for row, label in enumerate(labels):
        present = label.unique()
        present = present[(present != ignore_index) & (present >= 0) & (present < num_classes)]
        targets[row, present.long()] = 1.0
    return targets


@MODELS.register_module()
class PresenceBCELoss(nn.Module):
    """Binary cross-entropy of per-class presence logits against the classes of each image.

    Args:
        loss_weight (float): Multiplier of the loss.
        loss_name (str): Key of the loss in the loss dict.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_cls') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, logits: Tensor, labels: Tensor, ignore_index: int = 255) -> Tensor:
        """Compute the loss.

        Args:
            logits (Tensor): Presence logits [B, C] (``sigmoid`` gives the probability).
            labels (Tensor): Label maps [B, H, W] the targets are read from.
            ignore_index (int): Label that names no class.

        Returns:
            Tensor: Scalar loss (mean over images and classes).
        """
        targets = presence_targets(labels, logits.shape[1], ignore_index).to(logits)
        return self.loss_weight * F.binary_cross_entropy_with_logits(logits, targets)

    @property
    def loss_name(self) -> str:
        return self._loss_name
