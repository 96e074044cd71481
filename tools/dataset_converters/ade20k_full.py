"""Convert the ADE20K full release (ADE20K_2021_17_01) to A-847 16-bit label maps.

Example::

    python tools/dataset_converters/ade20k_full.py data/ade/ADE20K_2021_17_01 \
        --out-dir data/ade20k_full --nproc 8

See :mod:`mmpat.datasets.converters.ade20k_full` for the input and output layouts.
"""

from __future__ import annotations

import argparse
import sys

from mmpat.datasets.converters.ade20k_full import SPLITS, convert_ade20k_full
from mmpat.datasets.converters.common import OutputExistsError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='the ADE20K_2021_17_01 directory (with index_ade20k.pkl)')
    parser.add_argument('--out-dir', default='data/ade20k_full', help='output root')
    parser.add_argument(
        '--splits', nargs='+', default=['validation'], choices=SPLITS, help='splits to convert'
    )
    parser.add_argument(
        '--max-short-side', type=int, default=512, help='resize larger images (0: never)'
    )
    parser.add_argument('--label-suffix', default='.png', choices=['.png', '.tif'])
    parser.add_argument(
        '--no-name-check', action='store_true', help='skip the index_ade20k.pkl name check'
    )
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    parser.add_argument('--overwrite', action='store_true', help='replace differing outputs')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        convert_ade20k_full(
            args.src,
            args.out_dir,
            splits=tuple(args.splits),
            max_short_side=args.max_short_side,
            nproc=args.nproc,
            overwrite=args.overwrite,
            label_suffix=args.label_suffix,
            check_names=not args.no_name_check,
        )
    except (FileNotFoundError, OutputExistsError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
