"""Training-free dense-CLIP (MaskCLIP-style) zero-shot head: the baseline of every method."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class DenseCLIPHead(BaseDecodeHead):
    """Per-pixel cosine similarity between CLIP's dense image embeddings and class texts.

    ``logits = logit_scale * <normalise(dense[:, :, i, j]), T_c>`` where ``dense`` is the
    backbone's MaskCLIP map ``'dense'`` [B, D, h, w] and ``T`` the segmentor's
    ``'class_embeddings'`` [C, D]. Two optional MaskCLIP refinements (off by default):

    - key smoothing (our choice of the key features: the last ``'pyramid'`` map, whose
      token-token cosine affinity ``softmax(cos / key_smoothing_temperature)`` averages the
      logits of similar patches);
    - prompt denoising: classes whose highest probability anywhere in the image stays below
      ``denoise_threshold`` are suppressed (their logits set to the minimum).

    Args:
        logit_scale (float): Fixed temperature of the cosine logits (CLIP uses 100).
        key_smoothing (bool): Enable key smoothing.
        key_smoothing_temperature (float): Temperature of the key affinity softmax.
        denoise_threshold (float, optional): Enable prompt denoising with this threshold.
        learnable_scale (bool): Make ``logit_scale`` trainable (for fine-tuning).
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes`` is reset by the segmentor's
            vocabulary; ``in_channels``/``channels`` are unused and default to 1).
    """

    def __init__(
        self,
        *,
        logit_scale: float = 100.0,
        key_smoothing: bool = False,
        key_smoothing_temperature: float = 0.1,
        denoise_threshold: float | None = None,
        learnable_scale: bool = False,
        num_classes: int = 1,
        in_channels: int = 1,
        channels: int = 1,
        init_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            channels=channels,
            num_classes=max(num_classes, 2),
            init_cfg=init_cfg,
            **kwargs,
        )
        del self.conv_seg  # classes are text embeddings, not a learned classifier
        self.num_classes = self.out_channels = num_classes
        log_scale = torch.tensor(math.log(logit_scale))
        self.log_logit_scale = nn.Parameter(log_scale, requires_grad=learnable_scale)
        self.key_smoothing = key_smoothing
        self.key_smoothing_temperature = key_smoothing_temperature
        self.denoise_threshold = denoise_threshold

    def init_weights(self) -> None:
        """Nothing to initialise (no classifier); keeps ``logit_scale`` as configured."""

    def forward(self, inputs: dict) -> Tensor:
        """Compute class logits.

        Args:
            inputs (dict): ``'dense'`` [B, D, h, w], ``'class_embeddings'`` [C, D] and, for
                key smoothing, ``'pyramid'`` (its last map [B, C', h, w]).

        Returns:
            Tensor: Logits [B, C, h, w].
        """
        dense = F.normalize(inputs['dense'], dim=1)
        texts = inputs['class_embeddings'].to(dense.dtype)
        if dense.shape[1] != texts.shape[1]:
            raise ValueError(
                f'Dense image embeddings have {dense.shape[1]} channels but class embeddings '
                f'have {texts.shape[1]}: backbone and text encoder come from different CLIPs.'
            )
        logits = self.log_logit_scale.exp() * torch.einsum('bdhw,cd->bchw', dense, texts)
        if self.key_smoothing:
            logits = self._smooth_with_keys(logits, inputs['pyramid'][-1])
        if self.denoise_threshold is not None:
            logits = self._denoise(logits)
        return logits

    def _smooth_with_keys(self, logits: Tensor, keys: Tensor) -> Tensor:
        batch, classes, height, width = logits.shape
        keys = F.interpolate(keys, size=(height, width), mode='bilinear', align_corners=False)
        keys = F.normalize(keys.flatten(2), dim=1)  # [B, C', N]
        affinity = torch.softmax(
            keys.transpose(1, 2) @ keys / self.key_smoothing_temperature, dim=-1
        )  # [B, N, N]
        smoothed = logits.flatten(2) @ affinity.transpose(1, 2)
        return smoothed.reshape(batch, classes, height, width)

    def _denoise(self, logits: Tensor) -> Tensor:
        peak = logits.softmax(dim=1).amax(dim=(2, 3), keepdim=True)  # [B, C, 1, 1]
        weak = peak < self.denoise_threshold
        # Never suppress the strongest class: an image always shows something.
        weak &= peak < peak.amax(dim=1, keepdim=True)
        floor = logits.amin(dim=(1, 2, 3), keepdim=True).expand_as(logits)
        return torch.where(weak.expand_as(logits), floor, logits)
