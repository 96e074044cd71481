"""Train a segmentor (mmpat or plain mmseg config).

Example:
    python tools/train.py configs/pat/pat_vit-b_ade20k.py --work-dir work_dirs/pat

``--amp`` trains in mixed precision: float16 with dynamic loss scaling (mmseg's
``AmpOptimWrapper``) on a GPU, bfloat16 autocast without loss scaling on a machine without CUDA
(mmengine's ``AmpOptimWrapper`` cannot be built there); it stops with the reason if the CPU has
no bfloat16 support.
"""

import argparse

import mmpat  # noqa: F401  (applies the compatibility layer and registers mmpat parts)
from mmpat.utils.cli import (
    add_common_args,
    build_runner,
    check_amp_config_fits_device,
    enable_amp_training,
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
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision: float16 with dynamic loss scaling on a GPU, bfloat16 '
        'autocast (no loss scaling) on a machine without CUDA; stops if the CPU lacks bfloat16',
    )
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with friendly_errors():
        cfg = load_config(args)
        amp_message = enable_amp_training(cfg) if args.amp else check_amp_config_fits_device(cfg)
        cfg.resume = args.resume
        runner = build_runner(cfg)
        if amp_message:
            runner.logger.info(amp_message)
        runner.train()
        finish_distributed()


if __name__ == '__main__':
    main()
