"""``mmcv.ops.psa_mask``: the point-wise spatial attention mask gather of PSANet.

For a feature map of ``H x W`` positions ``p`` and a mask of ``h_mask x w_mask`` taps
``k`` centred on ``p``, tap ``k`` of position ``p`` points at position ``q = p + k - centre``.
``collect`` writes input ``[k, p]`` to output ``[q, p]``; ``distribute`` to ``[p, q]``
(the transpose). Taps falling outside the map are dropped; other entries are zero.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

__all__ = ['PSAMask', 'psa_mask']

PSA_TYPES = ('collect', 'distribute')


def _gather_indices(
    height: int, width: int, mask_h: int, mask_w: int, distribute: bool, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Flat source indices into (K, H*W) and target indices into (H*W, H*W)."""
    hw = height * width
    tap_y, tap_x, pos_y, pos_x = torch.meshgrid(
        torch.arange(mask_h, device=device),
        torch.arange(mask_w, device=device),
        torch.arange(height, device=device),
        torch.arange(width, device=device),
        indexing='ij',
    )
    target_y = pos_y + tap_y - (mask_h - 1) // 2
    target_x = pos_x + tap_x - (mask_w - 1) // 2
    inside = (target_y >= 0) & (target_y < height) & (target_x >= 0) & (target_x < width)
    position = pos_y * width + pos_x
    source = (tap_y * mask_w + tap_x) * hw + position
    target = target_y * width + target_x
    flat_target = position * hw + target if distribute else target * hw + position
    return source[inside], flat_target[inside]


def psa_mask(input: Tensor, psa_type: str, mask_size: tuple[int, int]) -> Tensor:
    """Spread each position's attention mask over the whole map.

    Args:
        input (Tensor): (N, h_mask * w_mask, H, W) mask per position.
        psa_type (str): ``'collect'`` or ``'distribute'``.
        mask_size (tuple): ``(h_mask, w_mask)``.

    Returns:
        Tensor: (N, H * W, H, W).
    """
    if psa_type not in PSA_TYPES:
        raise ValueError(f'psa_type must be one of {PSA_TYPES}, got {psa_type!r}')
    mask_h, mask_w = _pair(mask_size)
    if input.dim() != 4 or input.size(1) != mask_h * mask_w:
        raise ValueError(
            f'PSAMask with mask_size ({mask_h}, {mask_w}) expects input (N, {mask_h * mask_w}, '
            f'H, W), got {tuple(input.shape)}'
        )
    batch, _, height, width = input.shape
    source, target = _gather_indices(
        height, width, mask_h, mask_w, psa_type == 'distribute', input.device
    )
    out = input.new_zeros(batch, (height * width) ** 2)
    out[:, target] = input.reshape(batch, -1)[:, source]
    return out.view(batch, height * width, height, width)


class PSAMask(nn.Module):
    """PSANet's mask gather (Zhao et al., 2018) as a module, mmcv's interface.

    Args:
        psa_type (str): ``'collect'`` or ``'distribute'``.
        mask_size (tuple): ``(h_mask, w_mask)``.
    """

    def __init__(self, psa_type: str, mask_size: tuple[int, int] | None = None) -> None:
        super().__init__()
        if psa_type not in PSA_TYPES:
            raise ValueError(f'psa_type must be one of {PSA_TYPES}, got {psa_type!r}')
        self.psa_type = psa_type
        self.psa_type_enum = PSA_TYPES.index(psa_type)
        self.mask_size = mask_size

    def forward(self, input: Tensor) -> Tensor:
        """Args: input (N, h_mask * w_mask, H, W). Returns: (N, H * W, H, W)."""
        return psa_mask(input, self.psa_type, self.mask_size)

    def extra_repr(self) -> str:
        return f'psa_type={self.psa_type}, mask_size={self.mask_size}'
