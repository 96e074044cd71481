"""Generate the offline open-vocabulary scenes (images, label maps, captions, meta.json).

Example::

    python tools/dataset_converters/gen_scenes.py --out data/scenes

Re-running with the same arguments on a complete folder does nothing; a folder made with other
arguments is refused (use another --out, or --force to delete and regenerate). The generator
itself is :func:`mmpat.datasets.scenes.generate_scenes`.
"""

from __future__ import annotations

import argparse
import sys
import time

from mmpat.datasets.scenes.generator import (
    DEFAULT_NUM_PRETRAIN,
    DEFAULT_NUM_TRAIN,
    DEFAULT_NUM_VAL,
    ScenesExistError,
    generate_scenes,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/scenes', help='output folder (scenes root)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', type=int, default=96, help='image side in pixels')
    parser.add_argument('--num-pretrain', type=int, default=DEFAULT_NUM_PRETRAIN)
    parser.add_argument('--num-train', type=int, default=DEFAULT_NUM_TRAIN)
    parser.add_argument('--num-val', type=int, default=DEFAULT_NUM_VAL)
    parser.add_argument(
        '--workers', type=int, default=1, help='processes (same files for any number)'
    )
    parser.add_argument('--force', action='store_true', help='delete --out first if it exists')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        meta = generate_scenes(
            args.out,
            seed=args.seed,
            size=args.size,
            num_pretrain=args.num_pretrain,
            num_train=args.num_train,
            num_val=args.num_val,
            force=args.force,
            workers=args.workers,
            progress=not args.no_progress,
        )
    except (ScenesExistError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if not meta['skipped']:
        print(
            f'wrote {args.out}: {len(meta["classes"])} classes '
            f'({len(meta["seen"])} seen, {len(meta["unseen"])} unseen: {", ".join(meta["unseen"])})'
            f' in {time.perf_counter() - start:.1f} s'
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
