"""DeepLab heads whose classifier is the segmentor's class text embeddings (MVP-SEG+ student).

mmseg's ``ASPPHead`` (DeepLabV3) and ``DepthwiseSeparableASPPHead`` (DeepLabV3+) with the learned
``conv_seg`` classifier replaced by a 1x1 projection to the text space and a cosine against the
frozen class embeddings (MaskCLIP+'s student design): any vocabulary the text side can encode
can be segmented, including classes without a single labelled pixel. Under
``OpenVocabEncoderDecoder`` with an mmseg backbone (e.g. ``ResNetV1c``), the tuple of backbone
maps arrives as ``inputs['features']`` and the embeddings as ``inputs['class_embeddings']``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from mmseg.models.decode_heads import ASPPHead, DepthwiseSeparableASPPHead
from mmseg.registry import MODELS
from torch import Tensor

from .text_classifier import PROJ_INIT, check_text_width, require_open_vocab_inputs, text_logits


class TextClassifierMixin:
    """Replace ``conv_seg`` by ``logit_scale * cos(proj(feat), class_embeddings)``.

    Put it first in the bases of a ``BaseDecodeHead`` subclass and call
    :meth:`_init_text_classifier` after the head's ``__init__``.
    """

    def _init_text_classifier(self, embed_dims: int, logit_scale: float) -> None:
        del self.conv_seg
        self.proj = nn.Conv2d(self.channels, embed_dims, kernel_size=1)
        self.embed_dims = embed_dims
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(logit_scale)))
        self._texts: Tensor | None = None

    def forward(self, inputs: dict) -> Tensor:
        """Logits [B, C, h, w] from ``inputs['features']`` and ``inputs['class_embeddings']``."""
        needs = "'features' (the maps of a backbone returning a tuple, e.g. mmseg's ResNet)"
        require_open_vocab_inputs(self, inputs, needs)
        if 'features' not in inputs:
            raise TypeError(f'{type(self).__name__} needs {needs}; got keys {sorted(inputs)}')
        texts = inputs['class_embeddings']
        check_text_width(self, self.embed_dims, texts)
        self._texts = texts
        try:
            return super().forward(inputs['features'])
        finally:
            self._texts = None

    def cls_seg(self, feat: Tensor) -> Tensor:
        if self.dropout is not None:
            feat = self.dropout(feat)
        return text_logits(self.proj(feat), self._texts, self.log_logit_scale)


@MODELS.register_module()
class TextClassifierASPPHead(TextClassifierMixin, ASPPHead):
    """DeepLabV3's ASPP head with a text-embedding classifier.

    Args:
        embed_dims (int): Width of the class embeddings (CLIP's embed dim).
        logit_scale (float): Initial temperature of the cosine logits (learned).
        **kwargs: ``ASPPHead`` arguments (``num_classes`` follows the vocabulary).
    """

    def __init__(self, *, embed_dims: int, logit_scale: float = 50.0, **kwargs) -> None:
        kwargs['num_classes'] = max(kwargs.get('num_classes', 2), 2)
        kwargs.setdefault('init_cfg', PROJ_INIT)
        super().__init__(**kwargs)
        self._init_text_classifier(embed_dims, logit_scale)


@MODELS.register_module()
class TextClassifierSepASPPHead(TextClassifierMixin, DepthwiseSeparableASPPHead):
    """DeepLabV3+'s head with a text-embedding classifier.

    Args:
        embed_dims (int): Width of the class embeddings (CLIP's embed dim).
        logit_scale (float): Initial temperature of the cosine logits (learned).
        **kwargs: ``DepthwiseSeparableASPPHead`` arguments (``c1_in_channels``, ...).
    """

    def __init__(self, *, embed_dims: int, logit_scale: float = 50.0, **kwargs) -> None:
        kwargs['num_classes'] = max(kwargs.get('num_classes', 2), 2)
        kwargs.setdefault('init_cfg', PROJ_INIT)
        super().__init__(**kwargs)
        self._init_text_classifier(embed_dims, logit_scale)
