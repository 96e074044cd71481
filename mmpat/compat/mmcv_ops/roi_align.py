"""``mmcv.ops.roi_align``: RoIAlign (average pooling) on torchvision's kernel.

mmcv's CPU kernel and torchvision's share the Detectron2 definition (``aligned`` shifts
boxes by half a pixel, ``sampling_ratio=0`` picks ``ceil(bin size)`` samples per bin).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.modules.utils import _pair
from torchvision.ops import roi_align as tv_roi_align

__all__ = ['RoIAlign', 'roi_align']


def roi_align(
    input: Tensor,
    rois: Tensor,
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = 0,
    pool_mode: str = 'avg',
    aligned: bool = True,
) -> Tensor:
    """Pool a fixed-size feature per region with bilinear samples.

    Args:
        input (Tensor): (N, C, H, W) features.
        rois (Tensor): (K, 5) regions ``(batch index, x1, y1, x2, y2)`` in image units.
        output_size (int | tuple): ``(out_h, out_w)``.
        spatial_scale (float): Feature size over image size.
        sampling_ratio (int): Samples per bin side (0: adaptive).
        pool_mode (str): Only ``'avg'`` (``'max'`` needs mmcv's compiled kernel).
        aligned (bool): Shift boxes by -0.5 pixel (the corrected RoIAlign).

    Returns:
        Tensor: (K, C, out_h, out_w).
    """
    if pool_mode != 'avg':
        raise ModuleNotFoundError(
            f"roi_align pool_mode={pool_mode!r} needs mmcv's compiled extension; mmpat "
            "provides pool_mode='avg' only"
        )
    if rois.dim() != 2 or rois.size(1) != 5:
        raise ValueError(f'roi_align expects rois of shape (K, 5), got {tuple(rois.shape)}')
    return tv_roi_align(
        input, rois.to(input), _pair(output_size), spatial_scale, sampling_ratio, aligned
    )


class RoIAlign(nn.Module):
    """:func:`roi_align` as a module with mmcv's arguments.

    Args:
        output_size (int | tuple): ``(out_h, out_w)``.
        spatial_scale (float): Feature size over image size.
        sampling_ratio (int): Samples per bin side (0: adaptive).
        pool_mode (str): ``'avg'`` only.
        aligned (bool): Shift boxes by -0.5 pixel.
        use_torchvision (bool): Accepted for mmcv's signature (always torchvision here).
    """

    def __init__(
        self,
        output_size: int | tuple[int, int],
        spatial_scale: float = 1.0,
        sampling_ratio: int = 0,
        pool_mode: str = 'avg',
        aligned: bool = True,
        use_torchvision: bool = False,
    ) -> None:
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.pool_mode = pool_mode
        self.aligned = aligned
        self.use_torchvision = use_torchvision

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        """Args: input (N, C, H, W), rois (K, 5). Returns: (K, C, out_h, out_w)."""
        return roi_align(
            input,
            rois,
            self.output_size,
            self.spatial_scale,
            self.sampling_ratio,
            self.pool_mode,
            self.aligned,
        )

    def extra_repr(self) -> str:
        return (
            f'output_size={self.output_size}, spatial_scale={self.spatial_scale}, '
            f'sampling_ratio={self.sampling_ratio}, pool_mode={self.pool_mode}, '
            f'aligned={self.aligned}'
        )
