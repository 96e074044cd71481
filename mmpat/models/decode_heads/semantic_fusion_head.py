"""``SemanticFusionHead``: PAT's semantic branch on the open-vocabulary baseline (spec 3.3)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..necks.top_down_fpn import TopDownFPN
from ..utils.grad_scale import scale_gradient
from ..utils.rescale import build_rescale


@MODELS.register_module()
class SemanticFusionHead(BaseDecodeHead):
    """Per-pixel text-space embeddings from the CLIP pyramid, the dense CLIP map and the tokens.

    1. The CLIP ``'pyramid'`` maps: a 1x1 projection to ``channels`` each, rescaled (default
       x4, x2, x1, x0.5) and merged by a top-down FPN to the finest level (1/4).
    2. The ``'dense'`` CLIP map (MaskCLIP, text space), L2-normalised and upsampled to that
       size, enters through a 1x1 projection (added).
    3. With ``token_channels`` set (PAT): the shared decoder's ``'token_features'``, passed
       through :func:`scale_gradient` with ``token_grad_scale`` (loose coupling: the semantic
       loss reaches the tokenizer only scaled, our choice 0.1), enter through a 1x1
       projection (added). Without it, the head is PAT's baseline.
    4. A 3x3 conv + GELU and a 1x1 projection to the text dimension give the pixel embedding.
       Our choice (``dense_residual=True``): that projection is zero-initialised and added to
       the normalised dense CLIP map, so the untrained head is the training-free MaskCLIP
       segmentor and training learns a correction of it (which keeps the text alignment that
       unseen classes need).
    5. ``logits = logit_scale * cos(pixel embedding, class text embedding)`` against the
       segmentor's ``'class_embeddings'`` [C, D]; cross-entropy on the training vocabulary.

    Args:
        pyramid_channels (Sequence[int]): Channels of the backbone's pyramid maps.
        embed_dims (int): Text embedding dimension D (CLIP's ``embed_dim``).
        channels (int): Width of the head. Default 256.
        rescales (Sequence[float]): Resampling of each pyramid level. Default (4, 2, 1, 0.5).
        token_channels (int, optional): Channels of ``'token_features'`` (PAT); None for the
            baseline (no tokens).
        token_grad_scale (float): Gradient scale of the token features (0.1).
        dense_residual (bool): Add the learned embedding to the dense CLIP map (True).
        logit_scale (float): Initial logit scale. Default 50.
        learnable_scale (bool): Train the logit scale (default True).
        **kwargs: ``BaseDecodeHead`` arguments (``loss_decode``, ``ignore_index``, ...;
            ``num_classes`` is reset by the segmentor's vocabulary).
    """

    def __init__(
        self,
        *,
        pyramid_channels: Sequence[int],
        embed_dims: int,
        channels: int = 256,
        rescales: Sequence[float] = (4, 2, 1, 0.5),
        token_channels: int | None = None,
        token_grad_scale: float = 0.1,
        dense_residual: bool = True,
        logit_scale: float = 50.0,
        learnable_scale: bool = True,
        num_classes: int = 1,
        init_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        kwargs.setdefault('in_channels', channels)
        super().__init__(
            channels=channels, num_classes=max(num_classes, 2), init_cfg=init_cfg, **kwargs
        )
        del self.conv_seg  # the classifier is the class text embeddings
        self.num_classes = self.out_channels = num_classes
        pyramid_channels = list(pyramid_channels)
        if len(pyramid_channels) != len(rescales):
            raise ValueError(
                f'SemanticFusionHead: pyramid_channels {pyramid_channels} and rescales '
                f'{list(rescales)} need one entry per pyramid level'
            )
        self.pyramid_channels = pyramid_channels
        self.embed_dims = embed_dims
        self.token_channels = token_channels
        self.token_grad_scale = token_grad_scale
        self.dense_residual = dense_residual
        self.projections = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in pyramid_channels)
        self.rescales = nn.ModuleList(build_rescale(s, channels) for s in rescales)
        self.fpn = TopDownFPN(in_channels=channels, num_levels=len(rescales), channels=channels)
        self.dense_proj = nn.Conv2d(embed_dims, channels, 1)
        self.token_proj = nn.Conv2d(token_channels, channels, 1) if token_channels else None
        self.fuse = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.GELU())
        self.embed = nn.Conv2d(channels, embed_dims, 1)
        if dense_residual:
            nn.init.zeros_(self.embed.weight)
            nn.init.zeros_(self.embed.bias)
        scale = torch.tensor(math.log(logit_scale))
        self.log_logit_scale = nn.Parameter(scale, requires_grad=learnable_scale)

    def init_weights(self) -> None:
        """Keep PyTorch's default init and the zero-initialised embedding projection."""

    def pixel_embeddings(self, inputs: dict) -> Tensor:
        """L2-normalised per-pixel text-space embeddings [B, D, h_0, w_0].

        Args:
            inputs (dict): ``'pyramid'`` (L maps [B, C_l, h, w]), ``'dense'`` [B, D, h, w]
                and, with ``token_channels``, ``'token_features'`` [B, C_t, h', w'].
        """
        pyramid = inputs['pyramid']
        if len(pyramid) != len(self.projections):
            raise ValueError(
                f'SemanticFusionHead expects {len(self.projections)} pyramid maps '
                f'(pyramid_channels {self.pyramid_channels}), got {len(pyramid)}'
            )
        levels = zip(pyramid, self.projections, self.rescales)
        maps = [rescale(proj(p)) for p, proj, rescale in levels]
        x = self.fpn(maps)
        size = x.shape[-2:]
        dense = inputs['dense']
        if dense.shape[1] != self.embed_dims:
            raise ValueError(
                f'SemanticFusionHead: the dense CLIP map has {dense.shape[1]} channels, '
                f'embed_dims is {self.embed_dims}'
            )
        dense = F.interpolate(
            F.normalize(dense, dim=1), size=size, mode='bilinear', align_corners=False
        )
        x = x + self.dense_proj(dense)
        if self.token_proj is not None:
            if 'token_features' not in inputs:
                raise KeyError(
                    "SemanticFusionHead(token_channels=...) reads 'token_features': put "
                    'PyramidTokenizer with a decoder in the neck, or set token_channels=None '
                    '(the baseline)'
                )
            tokens = scale_gradient(inputs['token_features'], self.token_grad_scale)
            if tokens.shape[-2:] != size:
                tokens = F.interpolate(tokens, size=size, mode='bilinear', align_corners=False)
            x = x + self.token_proj(tokens)
        embedding = self.embed(self.fuse(x))
        if self.dense_residual:
            embedding = embedding + dense
        return F.normalize(embedding, dim=1)

    def forward(self, inputs: dict) -> Tensor:
        """Class logits.

        Args:
            inputs (dict): See :meth:`pixel_embeddings`, plus ``'class_embeddings'`` [C, D].

        Returns:
            Tensor: Logits [B, C, h_0, w_0].
        """
        embedding = self.pixel_embeddings(inputs)
        texts = inputs['class_embeddings'].to(embedding.dtype)
        return self.log_logit_scale.exp() * torch.einsum('bdhw,cd->bchw', embedding, texts)
