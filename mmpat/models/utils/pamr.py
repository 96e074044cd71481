"""PAMR: pixel-adaptive mask refinement (Araslanov & Roth, "Single-Stage Semantic
Segmentation from Image Labels", CVPR 2020; ``docs/methods/dense_clip.md``).

Score maps are averaged, a few times over, with the scores of neighbouring pixels whose colour
is alike. For a pixel ``i`` and a neighbour ``j``:

    k_c(i, j) = -|I_c(i) - I_c(j)| / sigma_c(i)        (per colour channel c)
    alpha(i, j) = softmax over j in N(i) of mean_c k_c(i, j)
    m_t(i) = sum_{j in N(i)} alpha(i, j) m_{t-1}(j)

with ``sigma_c(i)`` the standard deviation of channel c over the pixel and its neighbours.
Our choices where the paper leaves them open (``docs/methods/dense_clip.md``): ``N(i)`` holds
the 8 neighbours of ``i`` at every dilation (the pixel itself is not one), pixels beyond the
border repeat the border pixel (replicate padding, for the image and the scores alike), sigma
is the population standard deviation (+1e-8 so that a flat patch gives k = 0, i.e. equal
weights). The affinities are computed once and applied ``iterations`` times; each step is a
convex combination, so per-pixel distributions stay distributions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_EPS = 1e-8


def neighbour_offsets(dilations: Sequence[int]) -> list[tuple[int, int]]:
    """The (dy, dx) offsets of the 8-neighbourhoods at each dilation, in a fixed order."""
    ring = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    return [(dy * d, dx * d) for d in dilations for dy, dx in ring]


def shifted_stack(x: Tensor, offsets: Sequence[tuple[int, int]]) -> Tensor:
    """Each pixel's neighbours at ``offsets`` (replicate padding at the borders).

    Args:
        x: [B, C, H, W].
        offsets: K offsets (dy, dx).

    Returns:
        Tensor: [B, C, K, H, W], entry k at (i, j) is ``x[..., i + dy_k, j + dx_k]`` (clamped).
    """
    padded, pad = _replicate_pad(x, offsets)
    size = x.shape[-2:]
    return torch.stack([_window(padded, dy, dx, pad, size) for dy, dx in offsets], dim=2)


def _replicate_pad(x: Tensor, offsets: Sequence[tuple[int, int]]) -> tuple[Tensor, int]:
    pad = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    return F.pad(x, (pad, pad, pad, pad), mode='replicate'), pad


def _window(padded: Tensor, dy: int, dx: int, pad: int, size: torch.Size) -> Tensor:
    """The unpadded map read at (i + dy, j + dx): a view of the padded one."""
    top, left = pad + dy, pad + dx
    return padded[..., top : top + size[0], left : left + size[1]]


def pamr_affinity(image: Tensor, dilations: Sequence[int]) -> Tensor:
    """PAMR's affinities of each pixel to its neighbours.

    Args:
        image: [B, 3, H, W] (any per-channel affine normalisation: the kernel is invariant).
        dilations: Dilations of the 3x3 neighbourhoods.

    Returns:
        Tensor: [B, K, H, W], K = 8 * len(dilations), summing to 1 over K.
    """
    offsets = neighbour_offsets(dilations)
    image = image.float()
    neighbours = shifted_stack(image, offsets)  # [B, 3, K, H, W]
    window = torch.cat([image.unsqueeze(2), neighbours], dim=2)
    sigma = window.std(dim=2, unbiased=False, keepdim=True)  # [B, 3, 1, H, W]
    kernel = -(neighbours - image.unsqueeze(2)).abs() / (sigma + _EPS)
    return kernel.mean(dim=1).softmax(dim=1)


def pamr_refine(
    scores: Tensor, affinity: Tensor, dilations: Sequence[int], *, iterations: int
) -> Tensor:
    """Apply PAMR's averaging ``iterations`` times.

    Args:
        scores: [B, C, H, W] class scores (logits or probabilities: the map is linear).
        affinity: [B, K, H, W] from :func:`pamr_affinity` with the same dilations.
        dilations: The dilations the affinity was computed with.
        iterations: Number of averaging steps.

    Returns:
        Tensor: [B, C, H, W].
    """
    offsets = neighbour_offsets(dilations)
    weights = affinity.to(scores.dtype).unsqueeze(1)  # [B, 1, K, H, W]
    size = scores.shape[-2:]
    for _ in range(iterations):
        padded, pad = _replicate_pad(scores, offsets)
        refined = torch.zeros_like(scores)
        # One neighbour at a time: a [B, C, K, H, W] stack would not fit for large vocabularies.
        for k, (dy, dx) in enumerate(offsets):
            refined.addcmul_(weights[:, :, k], _window(padded, dy, dx, pad, size))
        scores = refined
    return scores


class PAMR(nn.Module):
    """Pixel-adaptive mask refinement of class score maps with the image's colours.

    Args:
        iterations (int): Averaging steps (default 10).
        dilations (Sequence[int]): Dilations of the 3x3 neighbourhoods in pixels of the image
            (default (8, 16)).
    """

    def __init__(self, *, iterations: int = 10, dilations: Sequence[int] = (8, 16)) -> None:
        super().__init__()
        if iterations < 1:
            raise ValueError(f'PAMR iterations must be >= 1, got {iterations}')
        dilations = tuple(int(d) for d in dilations)
        if not dilations or min(dilations) < 1:
            raise ValueError(f'PAMR dilations must be positive integers, got {dilations}')
        self.iterations = int(iterations)
        self.dilations = dilations

    def forward(self, scores: Tensor, image: Tensor) -> Tensor:
        """Refine the scores.

        Args:
            scores: [B, C, H, W] at the image's resolution.
            image: [B, 3, H, W].

        Returns:
            Tensor: [B, C, H, W].

        Raises:
            ValueError: The scores and the image differ in batch or spatial size.
        """
        if image.dim() != 4 or scores.dim() != 4:
            raise ValueError(
                f'PAMR needs scores [B, C, H, W] and an image [B, 3, H, W], got '
                f'{tuple(scores.shape)} and {tuple(image.shape)}'
            )
        if scores.shape[0] != image.shape[0] or scores.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f'PAMR: scores {tuple(scores.shape)} and image {tuple(image.shape)} differ in '
                'batch or size; resize the scores to the image first'
            )
        affinity = pamr_affinity(image, self.dilations)
        return pamr_refine(scores, affinity, self.dilations, iterations=self.iterations)
