"""Make COCO-Object label maps (background + 80 things) from COCO-Stuff-164k label maps.

Example::

    python tools/dataset_converters/coco_object.py data/coco_stuff164k/annotations/val2017

See :mod:`mmpat.datasets.converters.coco_object` for the input and output layouts.
"""

from __future__ import annotations

import argparse
import sys

from mmpat.datasets.converters.coco_object import INPUT_SUFFIX, convert_coco_object
from mmpat.datasets.converters.common import OutputExistsError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('ann_dir', help='COCO-Stuff annotation directory, e.g. .../val2017')
    parser.add_argument(
        '--input-format',
        default='trainid',
        choices=sorted(INPUT_SUFFIX),
        help="'trainid': mmseg *_labelTrainIds.png (0..170); 'raw': stuffthingmaps *.png",
    )
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    parser.add_argument('--overwrite', action='store_true', help='replace differing outputs')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        convert_coco_object(
            args.ann_dir, input_format=args.input_format, nproc=args.nproc, overwrite=args.overwrite
        )
    except (FileNotFoundError, OutputExistsError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
