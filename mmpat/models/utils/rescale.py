"""Resampling blocks that turn a single-scale ViT grid into a pyramid (as mmseg's
``Feature2Pyramid``)."""

from __future__ import annotations

from torch import nn


def build_rescale(scale: float, channels: int) -> nn.Module:
    """A resampling block for one pyramid level (x4, x2: transposed convs; x0.5: max pool).

    Args:
        scale: One of 4, 2, 1, 0.5.
        channels: Channels in and out.
    """
    if scale == 4:
        return nn.Sequential(
            nn.ConvTranspose2d(channels, channels, 2, stride=2),
            nn.GELU(),
            nn.ConvTranspose2d(channels, channels, 2, stride=2),
        )
    if scale == 2:
        return nn.ConvTranspose2d(channels, channels, 2, stride=2)
    if scale == 1:
        return nn.Identity()
    if scale == 0.5:
        return nn.MaxPool2d(2, stride=2, ceil_mode=True)
    raise ValueError(f'rescale {scale} not supported; use 4, 2, 1 or 0.5')
