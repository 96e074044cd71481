"""Tokenize one image with a PAT model: its per-level token maps next to the reconstruction.

Writes into ``--out``:

* ``tokens.png``: input | reconstruction | level 0 .. L-1 (a fixed colour per code);
* ``reconstruction.png``: the pixel branch's image (when the model has a ``PixelReconHead``);
* ``tokens_level{l}.png``: level l's token map at the image size (nearest);
* ``indices.npz``: the index maps, ``level0`` .. ``level{L-1}`` (int64 [h_l, w_l]).

Example::

    python tools/tokenize_image.py configs/pat/pat_clip-tiny_scenes.py \\
        work_dirs/pat_clip-tiny_scenes/iter_1000.pth data/scenes/images/val/0000.png \\
        --out work_dirs/tokens
"""

from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from PIL import Image  # noqa: E402

import mmpat  # noqa: E402,F401  (compat layer + registration)
from mmpat.compat import TRUST_ENV  # noqa: E402
from mmpat.utils.cli import friendly_errors  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a PAT config (model with a PyramidTokenizer neck)')
    parser.add_argument('checkpoint', help='the trained segmentor checkpoint')
    parser.add_argument('image', help='image file')
    parser.add_argument('--out', required=True, help='directory for the pictures and indices')
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda', 'cuda:0' (default cpu)")
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.backbone.pretrained=None (key=value pairs)',
    )
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help=f'allow checkpoints with arbitrary pickled objects (same as {TRUST_ENV}=1); '
        'only for files you trust',
    )
    return parser.parse_args(argv)


def write_outputs(tokenized, out_dir: str) -> dict[str, str]:
    """Write the figure, the reconstruction, the per-level maps and the indices.

    Returns:
        dict: Name -> written path.
    """
    from mmpat.apis import token_map_picture, tokenizer_figure

    os.makedirs(out_dir, exist_ok=True)
    written = {}

    def save(name: str, array: np.ndarray) -> None:
        path = osp.join(out_dir, name)
        Image.fromarray(array).save(path)
        written[name] = path

    save('tokens.png', tokenizer_figure(tokenized))
    if tokenized.reconstruction is not None:
        save('reconstruction.png', tokenized.reconstruction)
    pictures = token_map_picture(tokenized.indices, tokenized.image.shape[:2])
    for level, picture in enumerate(pictures):
        save(f'tokens_level{level}.png', picture)
    path = osp.join(out_dir, 'indices.npz')
    np.savez(path, **{f'level{i}': t.numpy() for i, t in enumerate(tokenized.indices)})
    written['indices.npz'] = path
    return written


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.trust_checkpoint:
        os.environ[TRUST_ENV] = '1'
    from mmpat.apis import init_tokenizer, tokenize_image

    with friendly_errors():
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(f'Checkpoint {args.checkpoint!r} does not exist.')
        if not osp.isfile(args.image):
            raise FileNotFoundError(f'Image {args.image!r} does not exist.')
        try:
            model = init_tokenizer(
                args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options
            )
            tokenized = tokenize_image(model, args.image)
        except ValueError as error:  # not a PAT config, weights that do not fit, not an image
            sys.exit(f'error: {error}')
    written = write_outputs(tokenized, args.out)
    if tokenized.reconstruction is None:
        print('the model has no PixelReconHead: no reconstruction')
    height, width = tokenized.image.shape[:2]
    print(f'image {args.image} as the model saw it: {width}x{height}')
    for level, (index, used) in enumerate(zip(tokenized.indices, tokenized.codes_used())):
        size = tokenized.codebook_sizes[level]
        h, w = index.shape
        print(f'level {level}: {w}x{h} tokens, {used} of {size} codes used')
    for path in written.values():
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
