"""Pack an image and its captions for image-text models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample


@TRANSFORMS.register_module()
class PackImageCaption(BaseTransform):
    """Pack ``img`` and ``captions`` into ``inputs`` and ``data_samples`` (like mmseg's
    ``PackSegInputs``, so mmseg's ``SegDataPreProcessor`` stacks and normalises them).

    Output:
        - ``inputs``: uint8 tensor (3, H, W).
        - ``data_samples``: :class:`SegDataSample` whose metainfo holds ``captions`` (all,
          list[str]), ``caption`` (one str: a random one in ``'random'`` mode, the first in
          ``'first'`` mode), ``tags`` (list[str]) and ``tag_weights`` (list[float]) when
          the dataset gives them, and the keys in ``meta_keys`` present in the results.

    Args:
        mode: ``'random'`` (training; uses numpy's global random state, seeded per worker by
            mmengine) or ``'first'`` (evaluation, deterministic).
        meta_keys: Result keys copied into the metainfo when present.
    """

    def __init__(
        self,
        *,
        mode: str = 'random',
        meta_keys: Sequence[str] = (
            'img_path',
            'ori_shape',
            'img_shape',
            'scale_factor',
            'flip',
            'flip_direction',
        ),
    ) -> None:
        if mode not in ('random', 'first'):
            raise ValueError(f"PackImageCaption mode must be 'random' or 'first', got {mode!r}")
        self.mode = mode
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack one sample.

        Args:
            results: Needs ``img`` (H, W, C) or (H, W) array and ``captions`` (list[str] or str).

        Returns:
            dict: ``inputs`` (uint8-like tensor (C, H, W)) and ``data_samples``.
        """
        if 'captions' not in results:
            raise KeyError(
                'PackImageCaption needs "captions" in the results (use ImageCaptionDataset)'
            )
        captions = results['captions']
        if isinstance(captions, str):
            captions = [captions]
        if not captions:
            raise ValueError(f'empty caption list for {results.get("img_path", "a sample")}')
        img = results['img']
        if img.ndim < 3:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        if self.mode == 'random':
            caption = captions[int(np.random.randint(len(captions)))]
        else:
            caption = captions[0]
        meta = {k: results[k] for k in self.meta_keys if k in results}
        meta.update(captions=list(captions), caption=caption)
        for key in ('tags', 'tag_weights'):
            if key in results:
                meta[key] = list(results[key])
        sample = SegDataSample()
        sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(mode={self.mode!r}, meta_keys={self.meta_keys})'
