"""``ConvStem``: a small BatchNorm CNN patch embedding for GroupViT (the scenes recipe).

A ViT trained from scratch on little data learns shapes slowly; on the generated scenes the
linear patchify GroupViT-tiny does not learn them at all in a CPU budget, the conv stem with a
token-level caption loss does (docs/experiments/groupvit_scenes.md). Plugs into the backbone as
``GroupViT(patch_embed=dict(type='ConvStem', channels=..., strides=...))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mmseg.registry import MODELS
from torch import Tensor, nn


def conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> list[nn.Module]:
    """3x3 conv (padding 1, no bias), BatchNorm, ReLU."""
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


@MODELS.register_module()
class ConvStem(nn.Module):
    """Convolutional patch embedding: stages of two 3x3 conv-BN-ReLU, a 1x1 conv, LayerNorm.

    Each stage's first conv has the stage's stride; the product of the strides is the patch
    size, so the token grid is ``ceil`` of the linear patchify's (the same at the pretraining
    size when it divides).

    Args:
        in_channels (int): Image channels.
        embed_dim (int): Token channels.
        channels (Sequence[int]): Channels per stage.
        strides (Sequence[int]): Stride per stage.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        embed_dim: int,
        channels: Sequence[int],
        strides: Sequence[int],
    ) -> None:
        super().__init__()
        if len(channels) != len(strides) or not channels:
            raise ValueError(
                f'stem channels {tuple(channels)} and strides {tuple(strides)} need one entry '
                'per stage (at least one stage)'
            )
        layers: list[nn.Module] = []
        prev = in_channels
        for out, stride in zip(channels, strides):
            layers += conv_bn_relu(prev, out, stride) + conv_bn_relu(out, out, 1)
            prev = out
        self.body = nn.Sequential(*layers)
        self.patch_size = math.prod(strides)  # the backbone checks it against its patch_size
        self.proj = nn.Conv2d(prev, embed_dim, kernel_size=1)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """[B, 3, H, W] -> tokens [B, h*w, C] and the grid (h, w)."""
        x = self.proj(self.body(x))
        grid = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), grid
