"""Distributed launch (``--launcher pytorch``) on machines without CUDA.

mmengine 0.10.7 calls ``torch.cuda.set_device`` unconditionally in its PyTorch launcher and
wraps DDP with ``device_ids=[local_rank]``; both fail on a CPU-only machine. We replace the
launcher's init so that, without CUDA, it joins the process group with gloo; with CUDA the
original code runs unchanged (NCCL). :func:`configure_runtime` fixes the DDP wrapper config.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as torch_dist


def cuda_available() -> bool:
    return torch.cuda.is_available()


def install_cpu_launcher() -> None:
    """Patch ``mmengine.dist.utils._init_dist_pytorch`` to fall back to gloo on CPU."""
    from mmengine.dist import utils as dist_utils

    original = dist_utils._init_dist_pytorch
    if getattr(original, '__mmpat__', False):
        return

    def init_dist_pytorch(backend: str = 'nccl', init_backend: str = 'torch', **kwargs) -> None:
        if cuda_available() or init_backend != 'torch':
            return original(backend, init_backend=init_backend, **kwargs)
        if backend == 'nccl':
            backend = 'gloo'  # NCCL needs CUDA; gloo is the CPU backend.
        torch_dist.init_process_group(
            backend=backend,
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **kwargs,
        )

    init_dist_pytorch.__mmpat__ = True
    dist_utils._init_dist_pytorch = init_dist_pytorch


def configure_runtime(cfg, launcher: str) -> None:
    """Make a config's distributed settings fit this machine (in place).

    Without CUDA, a distributed run uses gloo and DDP without ``device_ids``. Settings the user
    wrote explicitly are kept, except a 'nccl' backend, which cannot work without CUDA.

    Args:
        cfg (mmengine.Config): The runner config.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
    """
    if launcher == 'none' or cuda_available():
        return
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
