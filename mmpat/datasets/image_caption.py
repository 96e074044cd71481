"""Image-caption pairs from a jsonl file (the scenes' ``captions/pretrain.jsonl``, or any
user's own image-text data)."""

from __future__ import annotations

import json
import os.path as osp

from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class ImageCaptionDataset(BaseDataset):
    """Image-text pairs read from a jsonl file, one JSON object per line::

        {"image": "img_dir/pretrain/000000.png", "captions": ["a red circle", ...]}
        {"image": "/abs/path/cat.jpg", "caption": "a cat on a sofa"}

    ``image`` is relative to ``data_root`` (or absolute); ``captions`` is a list of strings, or
    ``caption`` a single string. Each data info holds ``img_path`` and ``captions``
    (list[str]); pick one caption per sample with the ``PackImageCaption`` transform.

    Args:
        ann_file: The jsonl file (relative to ``data_root`` or absolute).
        data_root: Root of the relative image paths (and of ``ann_file``).
        pipeline: Data transforms (e.g. ``LoadImageFromFile``, ``PackImageCaption``).
        check_files: Check that every image exists when loading (clear error naming the
            jsonl line); turn off for very large remote datasets.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(
        self,
        *,
        ann_file: str,
        data_root: str = '',
        pipeline: list | None = None,
        check_files: bool = True,
        **kwargs,
    ) -> None:
        self.check_files = check_files
        super().__init__(ann_file=ann_file, data_root=data_root, pipeline=pipeline or [], **kwargs)

    def load_data_list(self) -> list[dict]:
        """Parse the jsonl file.

        Returns:
            list[dict]: ``dict(img_path=str, captions=list[str])`` per line (blank lines skipped).
        """
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'caption file {self.ann_file} not found')
        root = self.data_root or ''
        data_list = []
        with open(self.ann_file) as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                where = f'{self.ann_file} line {line_no}'
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f'{where}: not valid JSON ({err})') from None
                if not isinstance(item, dict) or 'image' not in item:
                    raise KeyError(f'{where}: needs an "image" key')
                captions = item.get('captions', item.get('caption'))
                if isinstance(captions, str):
                    captions = [captions]
                if (
                    not isinstance(captions, list)
                    or not captions
                    or not all(isinstance(c, str) for c in captions)
                ):
                    raise ValueError(
                        f'{where}: needs "captions" (a non-empty list of strings) or "caption" '
                        '(a string)'
                    )
                img_path = item['image']
                if not osp.isabs(img_path):
                    img_path = osp.join(root, img_path)
                if self.check_files and not osp.isfile(img_path):
                    raise FileNotFoundError(f'{where}: image {img_path} not found')
                data_list.append(dict(img_path=img_path, captions=captions))
        return data_list
