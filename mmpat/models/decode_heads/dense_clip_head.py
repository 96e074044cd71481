"""Training-free dense-CLIP (MaskCLIP-style) zero-shot head: the baseline of every method."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.pamr import PAMR
from .groupvit_zero_shot_head import is_background
from .text_classifier import PROJ_INIT, check_text_width, require_open_vocab_inputs, text_logits


@MODELS.register_module()
class DenseCLIPHead(BaseDecodeHead):
    """Per-pixel cosine similarity between CLIP's dense image embeddings and class texts.

    ``logits = logit_scale * <normalise(dense[:, :, i, j]), T_c>`` where ``dense`` is the
    backbone's MaskCLIP map ``'dense'`` [B, D, h, w] and ``T`` the segmentor's
    ``'class_embeddings'`` [C, D]. Optional refinements (all off by default), two of MaskCLIP's:

    - key smoothing (our choice of the key features: the last ``'pyramid'`` map, whose
      token-token cosine affinity ``softmax(cos / key_smoothing_temperature)`` averages the
      logits of similar patches);
    - prompt denoising: classes whose highest probability anywhere in the image stays below
      ``denoise_threshold`` are suppressed (their logits set to the minimum);

    PAMR (``pamr=dict(iterations=10, dilations=(8, 16))``, NACLIP's post-processing): the
    logits are resized to the input image (``inputs['images']``, the normalised batch or the
    slide crop that ``OpenVocabEncoderDecoder`` passes) and averaged over colour-alike
    neighbours (:class:`mmpat.models.utils.PAMR`); the head's output is then at image size.
    PAMR is linear, so the refined logits stay logits (mmseg's slide averaging and losses
    apply unchanged) and their argmax does not depend on ``logit_scale``;

    and a background rule (``background_threshold``, our addition for VLMs that never saw the
    word, as GroupViT's protocol decides background by a threshold): a leading 'background'
    class of the vocabulary is not text-encoded (:meth:`text_classes`); a pixel is background
    where the highest softmax probability over the other classes (after the refinements above)
    is below the threshold. The output is then log-probabilities, background's channel
    ``log(background_threshold)``.

    Other backbones (issue 19): under ``OpenVocabEncoderDecoder`` a backbone returning a tuple
    of maps (mmseg's ``MixVisionTransformer``, ``ResNetV1c``, ``CLIPPyramid(out_format='tuple')``)
    arrives as ``inputs['features']``; when the inputs have no ``'dense'``, the head takes its
    map from there with mmseg's ``in_index`` / ``input_transform`` (``in_channels`` its width).
    With ``embed_dims`` the map goes through a learned 1x1 projection ``in_channels ->
    embed_dims`` (the text width) first (``'dense'`` too, if given); without it the map must
    already be as wide as the class embeddings. Key smoothing then uses the selected map (before
    the projection) as keys when there is no ``'pyramid'``.

    Args:
        logit_scale (float): Fixed temperature of the cosine logits (CLIP uses 100).
        key_smoothing (bool): Enable key smoothing.
        key_smoothing_temperature (float): Temperature of the key affinity softmax.
        denoise_threshold (float, optional): Enable prompt denoising with this threshold.
        background_threshold (float, optional): Enable the background rule with this
            probability threshold in (0, 1); without a leading 'background' class in the
            vocabulary it changes nothing.
        pamr (dict, optional): Enable PAMR with these ``PAMR`` arguments (``iterations``,
            ``dilations``); ``dict()`` takes the defaults (10, (8, 16)).
        learnable_scale (bool): Make ``logit_scale`` trainable (for fine-tuning).
        embed_dims (int, optional): Width of the class embeddings; adds the learned 1x1
            projection from ``in_channels`` (initialised N(0, 0.01) unless ``init_cfg``).
            None (default): no projection, the training-free baseline.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes`` is reset by the segmentor's
            vocabulary; ``in_channels`` is the width of the map taken from ``'features'``
            or projected, ``channels`` is unused; both default to 1).
    """

    def __init__(
        self,
        *,
        logit_scale: float = 100.0,
        key_smoothing: bool = False,
        key_smoothing_temperature: float = 0.1,
        denoise_threshold: float | None = None,
        pamr: dict | None = None,
        background_threshold: float | None = None,
        learnable_scale: bool = False,
        embed_dims: int | None = None,
        num_classes: int = 1,
        in_channels: int = 1,
        channels: int = 1,
        init_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        if embed_dims is not None and init_cfg is None:
            init_cfg = PROJ_INIT
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
        self.pamr = None if pamr is None else PAMR(**pamr)
        if background_threshold is not None and not 0 < background_threshold < 1:
            raise ValueError(
                f'background_threshold must be a probability in (0, 1), got {background_threshold}'
            )
        self.background_threshold = background_threshold
        self.embed_dims = embed_dims
        self.proj = None if embed_dims is None else nn.Conv2d(self.in_channels, embed_dims, 1)

    def text_classes(self, class_names) -> list:
        """The entries the segmentor text-encodes: all, or with the background rule all but a
        leading 'background'."""
        names = list(class_names)
        if self.background_threshold is not None and names and is_background(names[0]):
            return names[1:]
        return names

    def init_weights(self) -> None:
        """Initialise the projection (if any); keeps ``logit_scale`` as configured."""
        if self.proj is not None:
            super().init_weights()

    def forward(self, inputs: dict) -> Tensor:
        """Compute class logits.

        Args:
            inputs (dict): ``'class_embeddings'`` [C, D] and either ``'dense'`` [B, D, h, w]
                (``CLIPPyramid``) or ``'features'`` (a tuple of backbone maps, indexed by
                ``in_index``); for key smoothing ``'pyramid'`` (its last map [B, C', h, w]);
                for PAMR ``'images'`` [B, 3, H, W].

        Returns:
            Tensor: Logits [B, C, h, w] ([B, C, H, W] with PAMR).

        Raises:
            TypeError: ``inputs`` is not such a dict (e.g. the head is under mmseg's plain
                ``EncoderDecoder``, which passes a tuple of maps).
            ValueError: The map's width does not match ``in_channels`` (with a projection)
                or the class embeddings' width; PAMR without ``'images'``.
        """
        needs = "'dense' (CLIPPyramid) or 'features' (a backbone returning a tuple of maps)"
        require_open_vocab_inputs(self, inputs, needs)
        texts = inputs['class_embeddings']
        if 'dense' in inputs:
            dense, source = inputs['dense'], "inputs['dense']"
        elif 'features' in inputs:
            dense = self._transform_inputs(inputs['features'])
            source = f"the backbone map inputs['features'][{self.in_index}]"
        else:
            raise TypeError(f'{type(self).__name__} needs {needs}; got keys {sorted(inputs)}')
        keys = inputs['pyramid'][-1] if self.key_smoothing and 'pyramid' in inputs else dense
        if self.proj is not None:
            if dense.shape[1] != self.in_channels:
                raise ValueError(
                    f'{type(self).__name__}: {source} has {dense.shape[1]} channels but '
                    f'in_channels={self.in_channels}; set in_channels to its width'
                )
            check_text_width(self, self.embed_dims, texts)
            dense = self.proj(dense)
        elif dense.shape[1] != texts.shape[1]:
            if 'dense' in inputs:
                reason = 'backbone and text encoder come from different CLIPs.'
            else:
                reason = (
                    f'set embed_dims={texts.shape[1]} (and in_channels={dense.shape[1]}) to '
                    'learn a 1x1 projection to the text space.'
                )
            raise ValueError(
                f'{type(self).__name__}: {source} has {dense.shape[1]} channels but the class '
                f'embeddings have {texts.shape[1]}: {reason}'
            )
        logits = text_logits(dense, texts, self.log_logit_scale)
        if self.key_smoothing:
            logits = self._smooth_with_keys(logits, keys)
        if self.denoise_threshold is not None:
            logits = self._denoise(logits)
        if self.pamr is not None:
            logits = self._refine(logits, inputs)
        if self.background_threshold is not None and texts.shape[0] == self.num_classes - 1:
            logits = self._add_background(logits)
        return logits

    def _add_background(self, logits: Tensor) -> Tensor:
        log_probs = logits.log_softmax(dim=1)
        background = torch.full_like(log_probs[:, :1], math.log(self.background_threshold))
        return torch.cat([background, log_probs], dim=1)

    def _refine(self, logits: Tensor, inputs: dict) -> Tensor:
        images = inputs.get('images')
        if not torch.is_tensor(images):
            raise ValueError(
                f"{type(self).__name__}(pamr=...) needs the input images as inputs['images'] "
                f'(OpenVocabEncoderDecoder passes them); got keys {sorted(inputs)}'
            )
        logits = F.interpolate(
            logits, size=images.shape[-2:], mode='bilinear', align_corners=self.align_corners
        )
        return self.pamr(logits, images)

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
