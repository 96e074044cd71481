"""Convert the PASCAL Context full annotations (trainval/*.mat) to PC-459 16-bit label maps.

Example::

    python tools/dataset_converters/pascal_context_459.py data/VOCdevkit/VOC2010 --nproc 8

See :mod:`mmpat.datasets.converters.pascal_context_459` for the input and output layouts.
"""

from __future__ import annotations

import argparse
import sys

from mmpat.datasets.converters.common import OutputExistsError
from mmpat.datasets.converters.pascal_context_459 import convert_pascal_context_459


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('voc_root', help='the VOCdevkit/VOC2010 directory')
    parser.add_argument('--mat-dir', help='directory of the .mat files (default VOC2010/trainval)')
    parser.add_argument(
        '--split-file', help='ids to convert (default: the PASCAL Context val list)'
    )
    parser.add_argument('--out-dir', help='default VOC2010/SegmentationClassContext459')
    parser.add_argument(
        '--out-split-file', help='default VOC2010/ImageSets/SegmentationContext459/val.txt'
    )
    parser.add_argument('--labels-file', help="the release's labels.txt to check the class order")
    parser.add_argument('--skip-missing', action='store_true', help='skip ids without .mat')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    parser.add_argument('--overwrite', action='store_true', help='replace differing outputs')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        convert_pascal_context_459(
            args.voc_root,
            mat_dir=args.mat_dir,
            split_file=args.split_file,
            out_dir=args.out_dir,
            out_split_file=args.out_split_file,
            labels_file=args.labels_file,
            nproc=args.nproc,
            overwrite=args.overwrite,
            skip_missing=args.skip_missing,
        )
    except (FileNotFoundError, KeyError, OutputExistsError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
