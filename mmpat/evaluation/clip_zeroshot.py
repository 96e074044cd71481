"""Zero-shot classification of a scene's dominant object with a CLIP (the tiny CLIP's check).

For every image of a labelled split, the target is the class with the most pixels among the
non-background classes of its label map. Every non-background class is a candidate, named by
a prompt (default ``'a photo of a {}.'``); the prediction is the class whose text embedding is
closest (cosine) to the image embedding. Top-1 accuracy is reported separately for images whose
target is a seen and an unseen class, with chance level ``1 / number of candidates``.
"""

from __future__ import annotations

import json
import os
import os.path as osp
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def dominant_class(label_map: np.ndarray, *, background: int = 0, ignore: int = 255) -> int:
    """The label with the most pixels, background and ignore excluded (-1 if none).

    Args:
        label_map: (H, W) integer labels.
        background: Background label.
        ignore: Ignored label.

    Returns:
        int: The dominant label (ties: the smallest label), or -1 for an empty map.
    """
    counts = np.bincount(label_map.ravel().astype(np.int64), minlength=max(background, 0) + 1)
    counts[background] = 0
    if ignore < len(counts):
        counts[ignore] = 0
    return int(np.argmax(counts)) if counts.max() > 0 else -1


def zeroshot_accuracy(
    predictions: Sequence[int], targets: Sequence[int], groups: dict[str, set[int]]
) -> dict[str, float]:
    """Top-1 accuracy over all images and per group of target classes.

    Args:
        predictions: Predicted label per image.
        targets: True label per image.
        groups: Group name -> set of labels (e.g. ``seen``/``unseen``).

    Returns:
        dict: ``acc`` and ``acc_<group>`` (in [0, 1], NaN for an empty group) and ``n_<group>``.
    """
    pred, true = np.asarray(predictions), np.asarray(targets)
    out: dict[str, float] = dict(acc=float((pred == true).mean()) if len(true) else float('nan'))
    for name, labels in groups.items():
        mask = np.isin(true, sorted(labels))
        out[f'acc_{name}'] = (
            float((pred[mask] == true[mask]).mean()) if mask.any() else float('nan')
        )
        out[f'n_{name}'] = int(mask.sum())
    return out


@torch.no_grad()
def class_text_embeddings(
    model, names: Sequence[str], *, template: str = 'a photo of a {}.'
) -> torch.Tensor:
    """L2-normalised text embeddings (K, C) of ``template.format(name)`` for every name."""
    from open_clip import tokenize

    tokens = tokenize([template.format(n) for n in names], context_length=model.context_length)
    return model.encode_text(tokens, normalize=True)


def _load_image(path: str, size: int) -> torch.Tensor:
    img = Image.open(path).convert('RGB')
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BICUBIC)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def clip_zeroshot_dominant(
    model,
    data_root: str,
    *,
    split: str = 'val',
    template: str = 'a photo of a {}.',
    batch_size: int = 64,
    max_images: int | None = None,
) -> dict[str, float]:
    """Zero-shot top-1 accuracy of the dominant object's class on a scenes split.

    Args:
        model: An :class:`open_clip.model.CLIP` (e.g. from :func:`mmpat.apis.load_clip_export`).
        data_root: The scenes folder (``meta.json``, ``img_dir/<split>``, ``ann_dir/<split>``).
        split: A labelled split.
        template: Prompt with one ``{}`` for the class name.
        batch_size: Images per forward pass.
        max_images: Use only the first images (for quick checks).

    Returns:
        dict: ``acc``, ``acc_seen``, ``acc_unseen``, ``n_seen``, ``n_unseen``, ``chance``
        (1 / number of candidate classes), ``num_classes`` and ``n`` (images scored).

    Raises:
        FileNotFoundError: Missing ``meta.json`` or split folders (with how to make them).
    """
    meta_path = osp.join(data_root, 'meta.json')
    img_dir, ann_dir = osp.join(data_root, 'img_dir', split), osp.join(data_root, 'ann_dir', split)
    for path in (meta_path, img_dir, ann_dir):
        if not osp.exists(path):
            raise FileNotFoundError(
                f'{path} not found; generate the scenes with '
                f'`python tools/dataset_converters/gen_scenes.py --out {data_root}`'
            )
    with open(meta_path) as f:
        meta = json.load(f)
    classes = list(meta['classes'])
    unknown = [c for c in list(meta['seen']) + list(meta['unseen']) if c not in classes]
    if unknown:
        raise ValueError(f'{meta_path}: seen/unseen names {unknown} are not in "classes"')
    names = sorted(os.listdir(ann_dir))[:max_images]
    if not names:
        raise FileNotFoundError(f'{ann_dir} holds no label maps')
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    candidates = list(range(1, len(classes)))  # every non-background class
    text = class_text_embeddings(model, [classes[i] for i in candidates], template=template)
    targets, predictions = [], []
    for start in range(0, len(names), batch_size):
        chunk = names[start : start + batch_size]
        batch, chunk_targets = [], []
        for name in chunk:
            label = np.asarray(Image.open(osp.join(ann_dir, name)))
            target = dominant_class(label)
            if target < 0:
                continue
            img_path = osp.join(img_dir, name)
            if not osp.isfile(img_path):
                raise FileNotFoundError(f'image {img_path} of label map {name} not found')
            batch.append(_load_image(img_path, size))
            chunk_targets.append(target)
        if not batch:
            continue
        image = model.encode_image(torch.stack(batch), normalize=True)
        best = (image @ text.T).argmax(dim=1)
        predictions += [candidates[int(i)] for i in best]
        targets += chunk_targets
    groups = dict(
        seen={classes.index(c) for c in meta['seen']},
        unseen={classes.index(c) for c in meta['unseen']},
    )
    result = zeroshot_accuracy(predictions, targets, groups)
    result.update(chance=1.0 / len(candidates), num_classes=len(candidates), n=len(targets))
    return result
