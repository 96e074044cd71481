"""Train a segmentor (mmpat or plain mmseg config).

Example:
    python tools/train.py configs/pat/pat_vit-b_ade20k.py --work-dir work_dirs/pat
"""

import argparse

import mmpat  # noqa: F401  (applies the compatibility layer and registers mmpat parts)
from mmpat.utils.cli import (
    add_common_args,
    build_runner,
    finish_distributed,
    friendly_errors,
    load_config,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work dir',
    )
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with friendly_errors():
        cfg = load_config(args)
        if args.amp:
            optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
            if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
                raise SystemExit(
                    f'error: --amp needs OptimWrapper, the config uses {optim_wrapper}'
                )
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        cfg.resume = args.resume
        runner = build_runner(cfg)
        runner.train()
        finish_distributed()


if __name__ == '__main__':
    main()
