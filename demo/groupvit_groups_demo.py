"""Show GroupViT's groups of each grouping stage on an image (as in the paper's figures).

Example::

    python demo/groupvit_groups_demo.py data/scenes/img_dir/val/000000.png \
        projects/groupvit_scenes/configs/groupvit-tiny_scenes-captions.py \
        work_dirs/groupvit-tiny_scenes-captions/iter_1000.pth --out groups.png

CHECKPOINT may be an mmpat checkpoint, a released GroupViT ``.pth`` or an HF state dict
(converted on load; released files need ``--trust-checkpoint``). The image is resized so its
short side is ``--short-side`` (default: keep), then cut to a multiple of the patch size.
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='a GroupViT config (GroupViTZeroShot/GroupViTPretrain)')
    parser.add_argument('checkpoint', help='weights file')
    parser.add_argument('--out', default='groups.png', help='output picture')
    parser.add_argument('--short-side', type=int, default=None, help='resize short side to this')
    parser.add_argument('--trust-checkpoint', action='store_true', help='allow trusted pickles')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.trust_checkpoint:
        os.environ['MMPAT_TRUST_CHECKPOINTS'] = '1'
    import numpy as np
    import torch
    from PIL import Image

    import mmpat  # noqa: F401
    from mmpat.apis import load_groupvit_segmentor
    from mmpat.visualization import draw_stage_groups, groupvit_stage_groups

    if not os.path.isfile(args.img):
        print(f'error: image {args.img!r} does not exist', file=sys.stderr)
        return 2
    try:
        model, _ = load_groupvit_segmentor(args.config, args.checkpoint)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    image = Image.open(args.img).convert('RGB')
    if args.short_side:
        scale = args.short_side / min(image.size)
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.BICUBIC
        )
    patch = model.backbone.patch_size
    width, height = image.width // patch * patch, image.height // patch * patch
    rgb = np.asarray(image)[:height, :width]
    pre = model.data_preprocessor
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float()
    x = (x - pre.mean.view(1, 3, 1, 1)) / pre.std.view(1, 3, 1, 1)
    maps = groupvit_stage_groups(model.backbone, x)
    Image.fromarray(draw_stage_groups(rgb, [m.numpy() for m in maps])).save(args.out)
    print(
        f'wrote {args.out}: '
        + ', '.join(f'stage {i + 1}: {len(m.unique())} groups' for i, m in enumerate(maps))
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
