"""Optimizer wrappers, registered in mmengine's ``OPTIM_WRAPPERS`` by ``import mmpat``."""

from __future__ import annotations

import torch
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class BF16AmpOptimWrapper(AmpOptimWrapper):
    """``AmpOptimWrapper`` with bfloat16 autocast and no loss scaler; also works on the CPU.

    mmengine's ``AmpOptimWrapper`` refuses to be built without an accelerator and always
    creates a gradient scaler (float16's underflow guard, which bfloat16 does not need).
    ``tools/train.py --amp`` uses this wrapper on machines without CUDA. Checkpoints hold no
    ``loss_scaler`` entry; one in a loaded state (from a float16 run) is ignored.
    """

    def __init__(self, dtype='bfloat16', **kwargs):
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(f'BF16AmpOptimWrapper autocasts to bfloat16 only, got dtype={dtype}')
        if 'loss_scale' in kwargs or 'use_fsdp' in kwargs:
            raise ValueError(
                'BF16AmpOptimWrapper takes no loss_scale/use_fsdp: bfloat16 needs no loss scaling'
            )
        # Skip AmpOptimWrapper.__init__: it asserts an accelerator and builds a GradScaler.
        super(AmpOptimWrapper, self).__init__(**kwargs)
        self._scale_update_param = None
        self.loss_scaler = None
        self.cast_dtype = torch.bfloat16

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        if self.clip_grad_kwargs:
            self._clip_grad()
        self.optimizer.step(**kwargs)

    def state_dict(self) -> dict:
        return super(AmpOptimWrapper, self).state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict.pop('loss_scaler', None)
        super().load_state_dict(state_dict)

    # optim_context is AmpOptimWrapper's: mmengine's autocast(dtype=bfloat16) on get_device().
