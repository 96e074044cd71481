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

    Tags (optional; UniCL's image-label form, for ``CLIPContrastive(loss_type='tags')``): the
    names of what an image shows, a ``"tags"`` list of strings in the line itself, or read
    from ``tags_file``, a jsonl with the same ``image`` keys whose lines hold ``"tags"`` or
    ``"objects"`` (a list of ``{"name": ...}``: the scenes' ``annotations/pretrain.jsonl``).
    The data info then also holds ``tags`` (list[str], in order, duplicates removed) and, where
    the file gives them, ``tag_weights`` (list[float], one per tag): a ``"tag_weights"`` list
    beside ``"tags"``, or the summed ``"visible_pixels"`` of each name's objects (how much of
    the image each tag covers; ``CLIPContrastive(tag_weight_power=...)`` uses them).

    Args:
        ann_file: The jsonl file (relative to ``data_root`` or absolute).
        data_root: Root of the relative image paths (and of ``ann_file``).
        pipeline: Data transforms (e.g. ``LoadImageFromFile``, ``PackImageCaption``).
        check_files: Check that every image exists when loading (clear error naming the
            jsonl line); turn off for very large remote datasets.
        tags_file: Optional jsonl of tags per image (relative to ``data_root`` or absolute);
            every image of ``ann_file`` must have a line.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(
        self,
        *,
        ann_file: str,
        data_root: str = '',
        pipeline: list | None = None,
        check_files: bool = True,
        tags_file: str | None = None,
        **kwargs,
    ) -> None:
        self.check_files = check_files
        self.tags_file = tags_file
        super().__init__(ann_file=ann_file, data_root=data_root, pipeline=pipeline or [], **kwargs)

    def load_data_list(self) -> list[dict]:
        """Parse the jsonl file.

        Returns:
            list[dict]: ``dict(img_path=str, captions=list[str])`` per line (blank lines skipped).
        """
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'caption file {self.ann_file} not found')
        root = self.data_root or ''
        data_list, image_keys = [], []
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
                info = dict(img_path=img_path, captions=captions)
                if 'tags' in item:
                    info.update(_tag_info(item, where))
                data_list.append(info)
                image_keys.append(item['image'])
        if self.tags_file is not None:
            self._attach_tags(data_list, image_keys)
        return data_list

    def _attach_tags(self, data_list: list[dict], image_keys: list[str]) -> None:
        """Add the ``tags_file`` tags of every image (``image_keys``: their jsonl keys)."""
        path = self.tags_file
        if not osp.isabs(path) and self.data_root:
            path = osp.join(self.data_root, path)
        if not osp.isfile(path):
            raise FileNotFoundError(f'tags_file {path} not found')
        tags: dict[str, dict] = {}
        with open(path) as f:
            for line_no, line in enumerate(f, start=1):
                if line.strip():
                    item = json.loads(line)
                    tags[item.get('image')] = _tag_info(item, f'{path} line {line_no}')
        for info, key in zip(data_list, image_keys):
            if key not in tags:
                raise KeyError(f'tags_file {path} has no line for image {key!r}')
            info.update(tags[key])


def _tag_info(item: dict, where: str) -> dict:
    """``tags`` (deduplicated, in order) and, if known, ``tag_weights`` of one jsonl line."""
    weights = None
    if 'tags' in item:
        tags = item['tags']
        weights = item.get('tag_weights')
    elif 'objects' in item:
        objects = [obj if isinstance(obj, dict) else {} for obj in item['objects']]
        tags = [obj.get('name') for obj in objects]
        if objects and all('visible_pixels' in obj for obj in objects):
            weights = [obj['visible_pixels'] for obj in objects]
    else:
        raise KeyError(f'{where}: needs "tags" (a list of strings) or "objects" (with names)')
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
        raise ValueError(f'{where}: tags must be a non-empty list of strings, got {tags!r}')
    if weights is None:
        return dict(tags=list(dict.fromkeys(tags)))
    if (
        not isinstance(weights, list)
        or len(weights) != len(tags)
        or not all(isinstance(w, (int, float)) and w >= 0 for w in weights)
    ):
        raise ValueError(
            f'{where}: tag weights must be {len(tags)} non-negative numbers, got {weights!r}'
        )
    summed: dict[str, float] = {}
    for tag, weight in zip(tags, weights):  # a name drawn twice covers both objects' pixels
        summed[tag] = summed.get(tag, 0.0) + float(weight)
    return dict(tags=list(summed), tag_weights=list(summed.values()))
