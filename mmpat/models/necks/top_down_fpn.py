"""``TopDownFPN``: a top-down FPN over a pyramid; PAT's shared decoder of both branches
(``docs/methods/pat.md``) and the pyramid decoder of ``SemanticFusionHead``."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class TopDownFPN(BaseModule):
    """A top-down FPN over a pyramid (e.g. the quantised tokens), coarse to fine.

    Each level's map goes through a 1x1 lateral convolution; starting from the coarsest level,
    the running map is upsampled (bilinear) to the next finer level and added to its lateral;
    a 3x3 convolution + GELU smooths each merge. The output has the finest level's resolution
    (1/4 of the image with the default x4 rescale of a ViT-16 grid).

    Args:
        in_channels (int | Sequence[int]): Channels of the maps (one for all levels, e.g. the
            tokenizer's ``code_dim``, or one per level).
        num_levels (int): Number of pyramid levels.
        channels (int): Channels of the decoder and of its output. Default 128.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(
        self,
        *,
        in_channels: int | Sequence[int],
        num_levels: int,
        channels: int = 128,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.channels = channels
        if isinstance(in_channels, int):
            in_channels = [in_channels] * num_levels
        if len(in_channels) != num_levels:
            raise ValueError(f'in_channels {list(in_channels)} must have {num_levels} entries')
        self.laterals = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.smooth = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.GELU())
            for _ in range(num_levels)
        )

    def forward(self, tokens: Sequence[Tensor]) -> Tensor:
        """Decode a token pyramid.

        Args:
            tokens: L maps [B, in_channels_l, h_l, w_l], fine to coarse.

        Returns:
            Tensor: [B, channels, h_0, w_0].
        """
        if len(tokens) != len(self.laterals):
            raise ValueError(f'expected {len(self.laterals)} token maps, got {len(tokens)}')
        x = self.smooth[-1](self.laterals[-1](tokens[-1]))
        for level in range(len(tokens) - 2, -1, -1):
            lateral = self.laterals[level](tokens[level])
            x = F.interpolate(x, size=lateral.shape[-2:], mode='bilinear', align_corners=False)
            x = self.smooth[level](lateral + x)
        return x
