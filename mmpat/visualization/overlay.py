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
