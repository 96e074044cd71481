"""Regenerate the tiny 64x64 segmentation set used by the tool tests (deterministic).

Classes: 0 background, 1 square, 2 disc. Run: python tests/data/tiny_seg/generate.py
"""

from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).parent
SPLITS = {'train': 8, 'val': 4}
SIZE = 64


def make_sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    image = rng.integers(0, 60, size=(SIZE, SIZE, 3), dtype=np.uint8)
    label = np.zeros((SIZE, SIZE), dtype=np.uint8)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for cls in (1, 2):
        cy, cx = rng.integers(12, SIZE - 12, size=2)
        radius = int(rng.integers(6, 12))
        if cls == 1:
            mask = (abs(yy - cy) <= radius) & (abs(xx - cx) <= radius)
        else:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        label[mask] = cls
        image[mask] = (200, 40, 40) if cls == 1 else (40, 40, 200)
    return image, label


def main() -> None:
    rng = np.random.default_rng(0)
    for split, count in SPLITS.items():
        (ROOT / 'img_dir' / split).mkdir(parents=True, exist_ok=True)
        (ROOT / 'ann_dir' / split).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            image, label = make_sample(rng)
            Image.fromarray(image).save(ROOT / 'img_dir' / split / f'{index:03d}.png')
            Image.fromarray(label).save(ROOT / 'ann_dir' / split / f'{index:03d}.png')


if __name__ == '__main__':
    main()
