"""Evaluate a checkpoint (mmpat or plain mmseg config).

Example:
    python tools/test.py configs/pat/pat_vit-b_ade20k.py work_dirs/pat/iter_80000.pth

``--amp`` (not in mmseg's test.py; the same flag as tools/train.py) runs the test loop under
autocast: float16 on a GPU, bfloat16 on a machine without CUDA (stops with the reason if the CPU
has no bfloat16 support).

``--results FILE`` writes the metrics as an ``mmpat-results/1`` JSON file (benchmark name,
averaging mode, device, date; ``mmpat/evaluation/results_file.py``) for tools/leaderboard.py.
"""

import argparse
import copy
import os.path as osp

import mmpat  # noqa: F401  (applies the compatibility layer and registers mmpat parts)
from mmpat.utils.cli import (
    add_common_args,
    build_runner,
    enable_amp_testing,
    finish_distributed,
    friendly_errors,
    load_config,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        default=None,
        help='checkpoint file (omit for training-free models)',
    )
    parser.add_argument('--out', help='directory to save the predicted label maps')
    parser.add_argument(
        '--allow-mismatch',
        action='store_true',
        help='test even when checkpoint keys are missing from or unknown to the model',
    )
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory to save painted predictions')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds between shown images')
    parser.add_argument(
        '--show-interval', type=int, default=1, help='paint every N-th image (default: all)'
    )
    parser.add_argument('--tta', action='store_true', help='test-time augmentation')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='test under autocast (TestLoop fp16=True): float16 on a GPU, bfloat16 on a machine '
        'without CUDA; stops if the CPU lacks bfloat16',
    )
    parser.add_argument(
        '--results',
        metavar='FILE',
        help='write the metrics as an mmpat-results/1 JSON file (read by tools/leaderboard.py)',
    )
    add_common_args(parser)
    return parser.parse_args()


def check_checkpoint_fits(model, checkpoint: str) -> None:
    """Stop unless every weight of ``model`` is in ``checkpoint`` and vice versa.

    mmengine loads non-strictly and only warns, so a checkpoint of another model would be
    evaluated with the weights it lacks left at their initial values: metrics of a model that
    was never loaded.
    """
    from mmengine.model import is_model_wrapper

    from mmpat.compat import load_checkpoint_file

    model = model.module if is_model_wrapper(model) else model
    loaded = load_checkpoint_file(checkpoint, map_location='cpu')
    state = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else {}
    state = {k[len('module.') :] if k.startswith('module.') else k: v for k, v in state.items()}
    # Load for real (non-strict) so that the model's own load hooks run (e.g. the renaming of
    # an older checkpoint layout); the runner loads the same weights again afterwards.
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # weights of the right names but other shapes
        shapes = [line.strip() for line in str(error).splitlines() if 'size mismatch' in line]
        raise SystemExit(
            f'error: {checkpoint} does not fit the model of the config: '
            f'{len(shapes)} weights have other shapes (e.g. {shapes[:2]}). Is it a checkpoint of '
            'another config? Pass --allow-mismatch to test anyway.'
        ) from None
    missing, unexpected = sorted(result.missing_keys), sorted(result.unexpected_keys)
    if missing or unexpected:
        raise SystemExit(
            f'error: {checkpoint} does not fit the model of the config: {len(missing)} weights '
            f'missing (e.g. {missing[:4]}), {len(unexpected)} unknown (e.g. {unexpected[:4]}). '
            'Is it a checkpoint of another config? Pass --allow-mismatch to test anyway.'
        )


def enable_visualization(cfg, args: argparse.Namespace) -> None:
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise SystemExit('error: --show/--show-dir need a `visualization` entry in default_hooks')
    hooks.visualization.draw = True
    hooks.visualization.interval = args.show_interval  # mmseg's default paints every 50th
    if args.show:
        hooks.visualization.show = True
        hooks.visualization.wait_time = args.wait_time
    if args.show_dir:
        # mmseg 1.x's SegVisualizationHook draws through the visualizer, whose vis backends
        # write under its save_dir (LocalVisBackend: <show_dir>/vis_data/vis_image/).
        cfg.visualizer.save_dir = args.show_dir


def write_results_file(args: argparse.Namespace, cfg, runner, metrics: dict, train_dataset):
    """Write ``--results`` (main process only: the metrics are gathered there)."""
    from mmengine.device import get_device
    from mmengine.dist import is_main_process

    from mmpat.evaluation.results_file import averaging_mode, results_record, write_results

    if not is_main_process():
        return
    meta = runner.test_evaluator.dataset_meta or runner.test_dataloader.dataset.metainfo
    try:
        record = results_record(
            config=args.config,
            checkpoint=args.checkpoint,
            test_dataset=cfg.test_dataloader.dataset,
            train_dataset=train_dataset,
            num_classes=len(meta['classes']),
            average=averaging_mode(runner.test_evaluator.metrics),
            metrics=metrics or {},  # format_only evaluators return nothing
            device=get_device(),
        )
    except ValueError as error:
        raise SystemExit(f'error: {error}') from None
    runner.logger.info(f'results written to {write_results(args.results, record)}')


def main() -> None:
    args = parse_args()
    with friendly_errors():
        cfg = load_config(args)
        if args.checkpoint is not None:
            if not osp.isfile(args.checkpoint):
                raise SystemExit(f'error: checkpoint {args.checkpoint!r} does not exist.')
            cfg.load_from = args.checkpoint
        if args.show or args.show_dir:
            enable_visualization(cfg, args)
        if args.tta:
            if 'tta_pipeline' not in cfg:
                raise SystemExit(
                    f'error: --tta needs a `tta_pipeline` in the config; {args.config} has none '
                    '(define one as mmseg configs do, e.g. multi-scale Resize + RandomFlip '
                    'inside TestTimeAug)'
                )
            cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
            cfg.tta_model.module = cfg.model
            cfg.model = cfg.tta_model
        if args.out is not None:
            cfg.test_evaluator['output_dir'] = args.out
            cfg.test_evaluator['keep_results'] = True
        if args.results is not None and osp.isdir(args.results):
            raise SystemExit(f'error: --results {args.results!r} is a directory; give a file name')
        amp_message = enable_amp_testing(cfg) if args.amp else ''
        # The training set tells a zero-shot split benchmark (trained on its seen classes) from
        # the plain one; keep it for --results before the runner's copy is dropped below.
        train_dataset = copy.deepcopy((cfg.get('train_dataloader') or {}).get('dataset'))
        # Testing needs no training parts; a training-free config may define only some of them
        # (a dataset base with a train split), which the Runner would otherwise refuse.
        for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
            cfg[key] = None
        runner = build_runner(cfg)
        if args.checkpoint is not None and not args.allow_mismatch:
            check_checkpoint_fits(runner.model, args.checkpoint)
        if amp_message:
            runner.logger.info(amp_message)
        metrics = runner.test()
        if args.results is not None:
            write_results_file(args, cfg, runner, metrics, train_dataset)
        finish_distributed()


if __name__ == '__main__':
    main()
