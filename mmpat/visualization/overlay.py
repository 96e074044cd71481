"""Label-map overlays with a colour legend (for the demo and the inferencer)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def draw_overlay(
    image: np.ndarray,
    label_map: np.ndarray,
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    *,
    opacity: float = 0.5,
    legend: bool = True,
) -> np.ndarray:
    """Blend a colour-coded label map over an image and add a legend of the classes shown.

    Args:
        image (np.ndarray): RGB image [H, W, 3] uint8.
        label_map (np.ndarray): Class indices [H, W].
        class_names (Sequence[str]): Names by class index.
        palette (Sequence[Sequence[int]]): RGB colour by class index.
        opacity (float): Weight of the colours (0: image only, 1: colours only).
        legend (bool): Append a legend panel (classes ordered by area) on the right.

    Returns:
        np.ndarray: RGB image [H, W (+ legend width), 3] uint8.
    """
    if image.shape[:2] != label_map.shape:
        raise ValueError(f'image {image.shape[:2]} and label map {label_map.shape} differ in size')
    colours = np.asarray(palette, dtype=np.float32)
    valid = (label_map >= 0) & (label_map < len(colours))
    blended = image.astype(np.float32)
    painted = colours[np.where(valid, label_map, 0)]
    blended[valid] = (1 - opacity) * blended[valid] + opacity * painted[valid]
    result = Image.fromarray(blended.clip(0, 255).astype(np.uint8))
    if not legend:
        return np.asarray(result)
    ids, counts = np.unique(label_map[valid], return_counts=True)
    shown = [int(i) for i in ids[np.argsort(-counts)]]
    font = ImageFont.load_default()
    row = 16
    width = 12 + max([8 * len(str(class_names[i])) for i in shown] + [60]) + 24
    panel = Image.new('RGB', (width, max(result.height, row * len(shown) + 8)), 'white')
    draw = ImageDraw.Draw(panel)
    for position, index in enumerate(shown):
        top = 4 + position * row
        draw.rectangle([4, top, 16, top + 12], fill=tuple(int(c) for c in palette[index]))
        draw.text((22, top), str(class_names[index]), fill='black', font=font)
    canvas = Image.new('RGB', (result.width + width, max(result.height, panel.height)), 'white')
    canvas.paste(result, (0, 0))
    canvas.paste(panel, (result.width, 0))
    return np.asarray(canvas)


def draw_comparison(
    image: np.ndarray,
    ground_truth: np.ndarray,
    prediction: np.ndarray,
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    *,
    scale: int = 4,
    ignore_index: int = 255,
    opacity: float = 0.6,
) -> np.ndarray:
    """Image, ground truth and prediction side by side, enlarged, with one legend.

    Small images (the 96 px scenes) are enlarged ``scale`` times with nearest-neighbour
    sampling, so label edges stay sharp; ``ignore_index`` pixels of the ground truth are left
    uncoloured. The legend lists the classes of either map, by their area in both.

    Args:
        image (np.ndarray): RGB image [H, W, 3] uint8.
        ground_truth (np.ndarray): Class indices [H, W].
        prediction (np.ndarray): Class indices [H, W].
        class_names (Sequence[str]): Names by class index.
        palette (Sequence[Sequence[int]]): RGB colour by class index.
        scale (int): Enlargement factor (>= 1).
        ignore_index (int): Ground-truth label drawn as the bare image.
        opacity (float): Weight of the colours.

    Returns:
        np.ndarray: RGB image [scale*H + title, 3*scale*W + legend, 3] uint8.
    """
    if not (image.shape[:2] == ground_truth.shape == prediction.shape):
        raise ValueError(
            f'image {image.shape[:2]}, ground truth {ground_truth.shape} and prediction '
            f'{prediction.shape} must have one size'
        )
    if scale < 1:
        raise ValueError(f'scale must be >= 1, got {scale}')

    def enlarge(array: np.ndarray) -> np.ndarray:
        return array.repeat(scale, axis=0).repeat(scale, axis=1)

    big = enlarge(image)
    truth = np.where(ground_truth == ignore_index, -1, ground_truth)
    panels = [
        ('image', big),
        ('ground truth', draw_overlay(big, enlarge(truth), class_names, palette,
                                      opacity=opacity, legend=False)),
        ('prediction', draw_overlay(big, enlarge(prediction), class_names, palette,
                                    opacity=opacity, legend=False)),
    ]  # fmt: skip
    # One legend for both maps (draw_overlay's legend panel of their pixels, cut off).
    shown = np.concatenate([prediction.ravel(), truth[truth >= 0].ravel()])
    legend = draw_overlay(
        np.zeros((1, shown.size, 3), np.uint8), shown[None], class_names, palette, opacity=1.0
    )[:, shown.size :]
    title = 14
    height = max(big.shape[0] + title, legend.shape[0])
    width = sum(p.shape[1] for _, p in panels) + legend.shape[1]
    canvas = Image.new('RGB', (width, height), 'white')
    draw = ImageDraw.Draw(canvas)
    left = 0
    for name, panel in panels:
        draw.text((left + 4, 1), name, fill='black', font=ImageFont.load_default())
        canvas.paste(Image.fromarray(panel), (left, title))
        left += panel.shape[1]
    canvas.paste(Image.fromarray(legend), (left, 0))
    return np.asarray(canvas)
