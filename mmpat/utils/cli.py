"""Shared helpers of ``tools/train.py`` and ``tools/test.py``."""

from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from contextlib import contextmanager

from mmengine.config import Config, DictAction

from mmpat.compat import TRUST_ENV, CheckpointError, configure_runtime

from .ignore_index import check_ignore_index
from .registry_errors import explain_registry_error


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Arguments both tools share (same names as mmseg's tools)."""
    parser.add_argument('--work-dir', help='the directory to save logs and checkpoints')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. train_dataloader.batch_size=4 (key=value pairs)',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher (pytorch: torchrun; gloo is used automatically without CUDA)',
    )
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help=f'allow checkpoints with arbitrary pickled objects (same as {TRUST_ENV}=1); '
        'only for files you trust',
    )
    # torchrun passes --local-rank; older launchers pass --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """Read the config, apply overrides, and set work_dir / launcher / distributed settings."""
    if not osp.isfile(args.config):
        sys.exit(f'error: config file {args.config!r} does not exist.')
    if args.trust_checkpoint:
        os.environ[TRUST_ENV] = '1'
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    configure_runtime(cfg, args.launcher)
    check_ignore_index(cfg)  # one ignore label end to end (16-bit benchmarks use 65535)
    return cfg


def build_runner(cfg: Config):
    """Build an mmengine Runner (or the config's custom runner)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


@contextmanager
def friendly_errors():
    """Exit with a one-paragraph message for errors caused by the user's input."""
    try:
        yield
    except (CheckpointError, FileNotFoundError) as error:
        sys.exit(f'error: {error}')
    except ValueError as error:
        if 'ignore index' not in str(error):
            raise
        sys.exit(f'error: {error}')
    except KeyError as error:
        message = explain_registry_error(error)
        if message is None:
            raise
        sys.exit(f'error: {message}')


def finish_distributed() -> None:
    """Tear down the process group (if any) before the interpreter exits.

    Leaving it to interpreter exit lets gloo's background threads be destroyed while still
    joinable, which aborts the process ("terminate called without an active exception", exit
    signal 6) after a successful run; torchrun then reports the whole job as failed.
    Even after the teardown, a loaded machine sometimes still aborts at exit (a gloo thread
    is destroyed unjoined by the C++ static destructors; seen once in CI under load), so a
    distributed process then leaves at once with status 0: everything it writes (logs,
    checkpoints, results) is closed by the runner before this is called.
    """
    import logging

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # skip the C++ static destructors (see above)
