"""Pictures of GroupViT's learned groups per grouping stage (as the paper's figures).

Stage i's map gives each pixel the group it belongs to after i+1 grouping blocks: the soft
assignments of stages 0..i are multiplied, resized (bilinear) to the image and arg-maxed.
Each group gets a colour; the panel shows the image and one overlay per stage.
"""

from __future__ import annotations

import colorsys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import Tensor


@torch.no_grad()
def groupvit_stage_groups(backbone: torch.nn.Module, image: Tensor) -> list[Tensor]:
    """Group index of every pixel after each grouping stage.

    Args:
        backbone: A ``GroupViT`` image encoder (put in eval mode by the caller).
        image (Tensor): One normalised image [1, 3, H, W].

    Returns:
        list[Tensor]: Per grouping stage, a long map [H, W] of group ids (0..S_out-1).
    """
    feats = backbone(image)
    h, w = feats['grid']
    maps, assign = [], None
    for soft in feats['soft_assigns']:
        step = soft[0].t()  # [N_in, S_out]
        assign = step if assign is None else assign @ step
        grid = assign.t().reshape(1, -1, h, w)
        grid = F.interpolate(grid, size=image.shape[2:], mode='bilinear', align_corners=False)
        maps.append(grid[0].argmax(dim=0))
    return maps


def _group_colours(num: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hues = (np.arange(num) / max(num, 1) + rng.random()) % 1.0
    order = rng.permutation(num)
    return np.array(
        [[int(255 * c) for c in colorsys.hsv_to_rgb(hues[i], 0.75, 0.95)] for i in order],
        dtype=np.uint8,
    )


def draw_stage_groups(
    image_rgb: np.ndarray, group_maps: list[Tensor | np.ndarray], alpha: float = 0.55
) -> np.ndarray:
    """Panel: the image, then one overlay of coloured groups (with boundaries) per stage.

    Args:
        image_rgb (np.ndarray): uint8 [H, W, 3].
        group_maps (list): Per stage [H, W] group ids.
        alpha (float): Opacity of the group colours.

    Returns:
        np.ndarray: uint8 [H + 20, (1 + stages) * W, 3] with a title per panel.
    """
    height, width = image_rgb.shape[:2]
    panels = [image_rgb]
    for stage_map in group_maps:
        ids = np.asarray(stage_map, dtype=np.int64)
        if ids.shape != (height, width):
            raise ValueError(f'group map {ids.shape} does not match image {(height, width)}')
        colours = _group_colours(int(ids.max()) + 1)[ids]
        blend = (1 - alpha) * image_rgb.astype(np.float32) + alpha * colours
        edge = np.zeros_like(ids, dtype=bool)
        edge[:-1] |= ids[:-1] != ids[1:]
        edge[:, :-1] |= ids[:, :-1] != ids[:, 1:]
        blend[edge] = 255
        panels.append(blend.astype(np.uint8))
    canvas = Image.new('RGB', (width * len(panels), height + 20), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for index, panel in enumerate(panels):
        canvas.paste(Image.fromarray(panel), (index * width, 20))
        title = (
            'input'
            if index == 0
            else f'stage {index} ({len(np.unique(group_maps[index - 1]))} groups)'
        )
        draw.text((index * width + 4, 4), title, fill=(0, 0, 0))
    return np.asarray(canvas)
