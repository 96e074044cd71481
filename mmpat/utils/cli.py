"""Shared helpers of ``tools/train.py`` and ``tools/test.py``."""

from __future__ import annotations

import argparse
import inspect
import os
import os.path as osp
import sys
from contextlib import contextmanager

import torch
from mmengine.config import Config, DictAction

from mmpat.compat import TRUST_ENV, CheckpointError, configure_runtime
from mmpat.engine.optim_wrappers import BF16AmpOptimWrapper  # noqa: F401 (registered for --amp)

from .ignore_index import check_ignore_index
from .projects import add_projects_root
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
    add_projects_root(args.config)
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


# --- automatic mixed precision (--amp) -------------------------------------------------------
#
# mmengine 0.10.7 has no CPU path for mixed-precision training: AmpOptimWrapper asserts that a
# GPU/NPU/MLU/MUSA is present, so building it on the CPU stops with an AssertionError. Its
# autocast() does support the CPU, but only with bfloat16 (float16 fails an assertion), which is
# also what TestLoop(fp16=True) gets there. bfloat16 keeps float32's exponent range, so it needs
# no loss scaling (mmengine would create a torch.cuda.amp.GradScaler whatever the dtype; on the
# CPU that scaler disables itself with a warning).

AMP_CPU_MESSAGE = 'AMP on CPU: bfloat16 autocast'


def _mkldnn_bf16_supported() -> bool | None:
    """oneDNN's own answer whether this CPU has bfloat16 kernels (None: torch cannot tell)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return None


def cpu_bf16_problem() -> str | None:
    """Why bfloat16 autocast cannot be used on this CPU, or None when it can."""
    if not torch.backends.mkldnn.is_available():
        return 'this PyTorch build has no oneDNN (mkldnn), which provides the bfloat16 CPU kernels'
    if _mkldnn_bf16_supported() is False:
        return (
            'oneDNN has no bfloat16 kernels for this CPU (they need AVX512-BW/VL/DQ, '
            'AVX-NE-CONVERT, AMX or ARM BF16 instructions); bfloat16 would be emulated, '
            'slower than float32'
        )
    try:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            square = torch.full((8, 8), 0.5)
            product = square @ square
            conv = torch.nn.functional.conv2d(torch.ones(1, 2, 4, 4), torch.ones(3, 2, 1, 1))
    except RuntimeError as error:  # e.g. a kernel missing for bfloat16
        return f'a bfloat16 autocast matmul failed on this CPU: {error}'
    if product.dtype != torch.bfloat16 or conv.dtype != torch.bfloat16:
        return f'torch.autocast left a matmul in {product.dtype} and a conv in {conv.dtype}'
    if not (torch.all(product.float() == 2.0) and torch.all(conv.float() == 2.0)):
        return 'a bfloat16 autocast matmul gave wrong results on this CPU'
    return None


def amp_device() -> str:
    """The device --amp runs on: 'cpu' (bfloat16) or the accelerator mmengine uses (float16).

    Stops with the reason when neither works.
    """
    from mmengine.device import get_device

    device = get_device()
    if device == 'cpu':
        problem = cpu_bf16_problem()
        if problem is not None:
            raise SystemExit(
                f'error: --amp needs bfloat16 autocast on a machine without CUDA, but {problem}. '
                'Run without --amp (float32).'
            )
    elif device not in ('cuda', 'npu', 'mlu', 'musa'):
        raise SystemExit(
            f'error: --amp is not supported on {device}: mmengine runs mixed precision on '
            'cuda/npu/mlu/musa, and mmpat adds bfloat16 on the CPU. Run without --amp.'
        )
    return device


def enable_amp_training(cfg: Config) -> str:
    """Switch ``cfg.optim_wrapper`` to mixed precision; return the line to log, if any.

    On an accelerator this is mmseg's behaviour (``AmpOptimWrapper``, float16 with dynamic
    loss scaling); on the CPU it is ``BF16AmpOptimWrapper`` (bfloat16, no loss scaling).
    """
    optim_wrapper = cfg.get('optim_wrapper')
    if not optim_wrapper:
        raise SystemExit('error: --amp needs an `optim_wrapper` in the config; it has none')
    kind = optim_wrapper.get('type', 'OptimWrapper')
    if kind not in ('OptimWrapper', 'AmpOptimWrapper', 'BF16AmpOptimWrapper'):
        raise SystemExit(f'error: --amp needs OptimWrapper, the config uses {kind}')
    if amp_device() != 'cpu':
        optim_wrapper.type = 'AmpOptimWrapper'
        optim_wrapper.setdefault('loss_scale', 'dynamic')
        return ''
    dropped = {k: optim_wrapper.pop(k) for k in ('loss_scale', 'use_fsdp') if k in optim_wrapper}
    dtype = optim_wrapper.pop('dtype', None)
    optim_wrapper.type = 'BF16AmpOptimWrapper'
    optim_wrapper.dtype = 'bfloat16'
    notes = ['BF16AmpOptimWrapper, no loss scaling']
    if dtype not in (None, 'bfloat16'):
        notes.append(f"the config's dtype={dtype} is replaced: the CPU autocasts to bfloat16")
    if dropped:
        notes.append(f'ignored: {", ".join(f"{k}={v!r}" for k, v in dropped.items())}')
    return f'{AMP_CPU_MESSAGE} ({"; ".join(notes)})'


def check_amp_config_fits_device(cfg: Config) -> str:
    """Without --amp: stop clearly if the config asks for AmpOptimWrapper on the CPU.

    Returns '' (no line to log) so that it pairs with :func:`enable_amp_training`.
    """
    from mmengine.device import get_device

    optim_wrapper = cfg.get('optim_wrapper') or {}
    if optim_wrapper.get('type') == 'AmpOptimWrapper' and get_device() == 'cpu':
        raise SystemExit(
            'error: the config uses AmpOptimWrapper, which mmengine builds only on a '
            'GPU/NPU/MLU/MUSA, and this machine has none. Pass --amp for bfloat16 autocast '
            "on the CPU, or set optim_wrapper.type='OptimWrapper' for float32."
        )
    return ''


def enable_amp_testing(cfg: Config) -> str:
    """Run the test loop under autocast (TestLoop's ``fp16`` flag); return the line to log.

    mmengine's TestLoop(fp16=True) enters ``mmengine.runner.amp.autocast()``, which picks the
    dtype by device: float16 on CUDA, bfloat16 on the CPU (the only dtype it allows there).
    """
    from mmseg.registry import LOOPS

    device = amp_device()
    kind = cfg.test_cfg.get('type', 'TestLoop')
    loop = LOOPS.get(kind) if isinstance(kind, str) else kind
    if loop is None or 'fp16' not in inspect.signature(loop).parameters:
        raise SystemExit(
            f"error: --amp needs a test loop with an fp16 option (mmengine's TestLoop); "
            f'the config uses {kind}'
        )
    cfg.test_cfg.fp16 = True
    if device != 'cpu':
        return ''
    return f"{AMP_CPU_MESSAGE} (TestLoop fp16=True: torch.autocast('cpu', dtype=torch.bfloat16))"
