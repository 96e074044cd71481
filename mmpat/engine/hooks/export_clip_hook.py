"""Export a pretrained CLIP to open_clip's weights layout at the end of training."""

from __future__ import annotations

import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from mmpat.apis.clip_export import export_clip_weights


@HOOKS.register_module()
class ExportCLIPHook(Hook):
    """Write ``work_dir/<filename>`` (open_clip state dict) and its ``.json`` preset sidecar
    after training (main process only; atomic writes), see :mod:`mmpat.apis.clip_export`.

    The export holds no vocabulary (CLIP tower weights, not a segmentor checkpoint: see
    :mod:`mmpat.apis.clip_export`); the runner's own checkpoints are left as mmengine writes
    them (``CLIPContrastive`` is a captions model, not a segmentor).

    Args:
        filename: Weights file name, relative to the runner's work dir (or absolute).
        interval: Also export every ``interval`` training iterations (0: only at the end), so
            a long run interrupted midway still leaves usable weights.
    """

    priority = 'LOW'

    def __init__(self, *, filename: str = 'clip_tiny.pth', interval: int = 0) -> None:
        if not filename.endswith('.pth'):
            raise ValueError(f'ExportCLIPHook filename must end with .pth, got {filename!r}')
        self.filename = filename
        self.interval = int(interval)

    def _export(self, runner) -> None:
        if not is_main_process():
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        path = (
            self.filename if osp.isabs(self.filename) else osp.join(runner.work_dir, self.filename)
        )
        weights, sidecar = export_clip_weights(model, path)
        runner.logger.info(f'Exported open_clip weights to {weights} (preset {sidecar})')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.interval > 0 and self.every_n_train_iters(runner, self.interval):
            self._export(runner)

    def after_train(self, runner) -> None:
        self._export(runner)
