"""A label-map loader that keeps 16-bit class ids (A-847, PC-459).

mmseg's ``LoadAnnotations`` casts every label map to ``uint8``, which wraps ids above 255 (and
turns the 16-bit ignore value 65535 into 255, a real class of those datasets). This loader keeps
the decoded integers exactly, as ``uint16``, and applies ``reduce_zero_label`` and the dataset's
``label_map`` with a configurable ``ignore_index`` (default 65535, the common preparation of
ADE20K-full and PASCAL Context-459). Place it after ``Resize`` in test pipelines like mmseg does.
"""

from __future__ import annotations

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

UINT16_MAX = 65535


@TRANSFORMS.register_module()
class LoadAnnotationsUint16(BaseTransform):
    """Load a semantic label map without narrowing it to 8 bits.

    Required keys: ``seg_map_path`` (absent: the transform does nothing); optional:
    ``reduce_zero_label``, ``label_map``, ``seg_fields``. Added keys: ``gt_seg_map``
    (np.uint16, [H, W]), ``seg_fields``.

    Args:
        reduce_zero_label: Whether label 0 is ignored and every other label shifted down by 1.
            None (default) takes the dataset's ``reduce_zero_label`` from the results.
        ignore_index: The ignore value of the label maps (kept as is; the target of label 0
            when reducing and of classes dropped by ``label_map``). Must match the dataset's,
            the decode heads' and the metric's ``ignore_index`` (see
            :func:`mmpat.utils.ignore_index.check_ignore_index`).
        imdecode_backend: ``mmcv.imfrombytes`` backend ('pillow' or 'cv2'; both keep 16-bit
            PNG and TIFF).
        backend_args: File backend arguments (mmengine.fileio).
    """

    def __init__(
        self,
        *,
        reduce_zero_label: bool | None = None,
        ignore_index: int = UINT16_MAX,
        imdecode_backend: str = 'pillow',
        backend_args: dict | None = None,
    ) -> None:
        if not 0 <= ignore_index <= UINT16_MAX:
            raise ValueError(
                f'ignore_index must be in [0, 65535] for uint16 labels, got {ignore_index}'
            )
        self.reduce_zero_label = reduce_zero_label
        self.ignore_index = int(ignore_index)
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def _decode(self, path: str) -> np.ndarray:
        seg = mmcv.imfrombytes(
            fileio.get(path, backend_args=self.backend_args),
            flag='unchanged',
            backend=self.imdecode_backend,
        )
        if seg is None:
            raise ValueError(f'Cannot decode the label map {path!r}.')
        if seg.ndim == 3 and seg.shape[2] == 1:
            seg = seg[..., 0]  # only the channel axis (a 1-pixel-high map stays 2-D)
        if seg.ndim != 2:
            raise ValueError(
                f'Label map {path!r} has shape {seg.shape}; expected one channel of class ids '
                '(colour label images must be converted first, see tools/dataset_converters).'
            )
        if not np.issubdtype(seg.dtype, np.integer):
            raise ValueError(f'Label map {path!r} has non-integer dtype {seg.dtype}.')
        if seg.size and (int(seg.min()) < 0 or int(seg.max()) > UINT16_MAX):
            raise ValueError(f'Label map {path!r} has values outside [0, 65535].')
        return seg.astype(np.uint16)

    def transform(self, results: dict) -> dict:
        """Load ``results['seg_map_path']`` into ``results['gt_seg_map']`` (uint16).

        Without ``seg_map_path`` (inference on a bare image, e.g. mmseg's ``inference_model``,
        which drops only its own ``LoadAnnotations`` from the test pipeline) nothing is loaded.
        """
        if results.get('seg_map_path') is None:
            return results
        seg = self._decode(results['seg_map_path'])
        reduce = self.reduce_zero_label
        if reduce is None:
            reduce = bool(results.get('reduce_zero_label', False))
        elif 'reduce_zero_label' in results and reduce != results['reduce_zero_label']:
            raise ValueError(
                f'LoadAnnotationsUint16(reduce_zero_label={reduce}) disagrees with the dataset '
                f'(reduce_zero_label={results["reduce_zero_label"]}); set it on the dataset only.'
            )
        label_map = results.get('label_map')
        if not reduce and not label_map:
            results['gt_seg_map'] = seg
            results.setdefault('seg_fields', []).append('gt_seg_map')
            return results
        # One lookup table over all 65536 values does the shift and the label map at once.
        lut = np.arange(UINT16_MAX + 1, dtype=np.int64)
        if reduce:
            lut = lut - 1
            lut[0] = self.ignore_index
            lut[self.ignore_index] = self.ignore_index
        if label_map:
            remap = np.arange(UINT16_MAX + 1, dtype=np.int64)
            for old_id, new_id in label_map.items():
                remap[old_id] = new_id
            remap[self.ignore_index] = self.ignore_index
            lut = np.where(lut == self.ignore_index, lut, remap[np.clip(lut, 0, UINT16_MAX)])
        results['gt_seg_map'] = lut.astype(np.uint16)[seg]
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(reduce_zero_label={self.reduce_zero_label}, '
            f'ignore_index={self.ignore_index}, imdecode_backend={self.imdecode_backend!r})'
        )
