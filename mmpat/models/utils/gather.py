"""Differentiable all-gather: contrastive losses use every process's batch as negatives."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward gives each process the summed gradient of its own slice."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:
        ctx.rank, ctx.batch = dist.get_rank(), tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        # Every process computed its loss over the full gathered batch: sum their gradients.
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.batch : (ctx.rank + 1) * ctx.batch]


def all_gather_with_grad(tensor: Tensor, *, with_grad: bool = True) -> tuple[Tensor, int]:
    """Concatenate ``tensor`` of every process along dim 0 (equal batch sizes).

    Without an initialised process group (or with one process) the input is returned as is.

    Args:
        tensor: (B, ...) local tensor; every process must pass the same B.
        with_grad: Let gradients flow back to the other processes' tensors (else only the local
            slice carries gradients, as open_clip's ``gather_with_grad=False``).

    Returns:
        tuple: (world * B, ...) gathered tensor and the row offset of this process (rank * B).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor, 0
    rank, batch = dist.get_rank(), tensor.shape[0]
    if with_grad:
        return _AllGatherWithGrad.apply(tensor), rank * batch
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.detach().contiguous())
    parts[rank] = tensor
    return torch.cat(parts, dim=0), rank * batch
