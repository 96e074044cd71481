"""Run a function in 2 gloo CPU processes and average its tensors as DDP averages gradients."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(rank: int, world: int, init_file: str, out_file: str, fn: Callable) -> None:
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=world)
    try:
        result = fn(rank, world)
        for value in result.values():
            dist.all_reduce(value)
            value /= world
        if rank == 0:
            torch.save(result, out_file)
    finally:
        dist.destroy_process_group()


def run_in_two_processes(fn: Callable[[int, int], dict], tmp_path) -> dict:
    """``fn(rank, world) -> dict of tensors`` in 2 processes; the tensors averaged over them.

    ``fn`` must be a module-level function (spawned processes import it by name); spawn, not
    fork, because a fork after torch started its thread pools can deadlock.
    """
    out_file = str(tmp_path / 'two_processes.pt')
    os.environ.setdefault('GLOO_SOCKET_IFNAME', 'lo')
    mp.spawn(_worker, args=(2, str(tmp_path / 'init'), out_file, fn), nprocs=2, join=True)
    return torch.load(out_file)
