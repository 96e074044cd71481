"""Resampling blocks that turn a single-scale ViT grid into a pyramid (as mmseg's
``Feature2Pyramid``)."""

from __future__ import annotations

from torch import nn


def build_rescale(scale: float, channels: int, mode: str = 'deconv') -> nn.Module:
    """A resampling block for one pyramid level.

    Args:
        scale: One of 4, 2, 1, 0.5.
        channels: Channels in and out.
        mode: How to upsample: ``'deconv'`` (stride-2 transposed convolutions, GELU between
            two of them for x4, as mmseg's ``Feature2Pyramid``) or ``'bilinear'`` (bilinear
            x``scale`` and a 3x3 convolution: neighbours inside a patch get similar vectors,
            where a transposed convolution gives every sub-patch position its own weights).
            Downsampling (x0.5) is a 2x2 max pool either way.
    """
    if mode not in ('deconv', 'bilinear'):
        raise ValueError(f"rescale mode must be 'deconv' or 'bilinear', got {mode!r}")
    if scale == 1:
        return nn.Identity()
    if scale == 0.5:
        return nn.MaxPool2d(2, stride=2, ceil_mode=True)
    if scale not in (2, 4):
        raise ValueError(f'rescale {scale} not supported; use 4, 2, 1 or 0.5')
    if mode == 'bilinear':
        return nn.Sequential(
            nn.Upsample(scale_factor=scale, mode='bilinear', align_corners=False),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
    if scale == 4:
        return nn.Sequential(
            nn.ConvTranspose2d(channels, channels, 2, stride=2),
            nn.GELU(),
            nn.ConvTranspose2d(channels, channels, 2, stride=2),
        )
    return nn.ConvTranspose2d(channels, channels, 2, stride=2)
