"""``PyramidTokenizer``: PAT's hierarchical codebook tokenizer (``docs/methods/pat.md``).

A frozen VLM's feature pyramid becomes, per level, a map of discrete "meta semantic tokens":

1. per level ``l``: a 1x1 projection of the backbone map to ``code_dim`` dimensions, then a
   rescale of the 1/16 grid (default x4, x2, x1, x0.5, as mmseg's ``Feature2Pyramid``;
   transposed convolutions up, max pooling down). Projecting first keeps the upsampling cheap;
2. bottom-up composition: the quantised tokens of the finer level ``l - 1``, average-pooled to
   the grid of level ``l`` and passed through a 1x1 convolution, are added to the input of
   level ``l`` before it is quantised, so coarse tokens are compositions of fine ones;
3. L2 normalisation and lookup in the level's codebook (:class:`EMAVectorQuantizer`: cosine
   lookup, straight-through gradients, EMA updates, commitment loss, dead-code restart);
4. optionally a shared top-down decoder (``decoder``, e.g. ``TopDownFPN``) over the
   quantised pyramid, whose output ``'token_features'`` both PAT branches read.

The backbone's own outputs pass through unchanged, so heads after this neck still see
``'pyramid'``, ``'dense'`` and ``'global'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..utils.rescale import build_rescale
from ..utils.vector_quantizer import EMAVectorQuantizer


@MODELS.register_module()
class PyramidTokenizer(BaseModule):
    """Hierarchical codebook tokenizer over a feature pyramid (PAT's neck).

    Args:
        in_channels (Sequence[int]): Channels of the backbone's ``'pyramid'`` maps, fine to
            coarse (one per level; ``CLIPPyramid.out_channels``).
        codebook_sizes (Sequence[int]): Codes per level, fine to coarse. Default
            (1024, 512, 256, 128).
        code_dim (int): Dimension of the lookup (our default 256; improved VQGAN uses 8-32).
        rescales (Sequence[float]): Resampling of each level's grid. Default (4, 2, 1, 0.5).
        rescale_mode (str): Upsampling of the levels, ``'deconv'`` (default) or
            ``'bilinear'`` (see :func:`build_rescale`).
        compose (bool): Bottom-up composition (default True; False quantises levels apart).
        decay (float): EMA decay of the codebooks (0.99).
        beta (float): Commitment loss weight (0.25).
        restart_after (int): Dead-code restart after this many steps unused (0: never).
        dead_window (int): Window of the ``dead_codes`` statistic (steps).
        data_init (bool): Initialise the codebooks from the first training batch.
        kmeans_init (bool): Refine that init with spherical k-means.
        kmeans_iters (int): k-means iterations.
        check_finite (bool): Raise ``FloatingPointError`` naming the level when its VQ loss
            would not be finite (its normalised input is checked before the quantiser, so the
            codebook statistics stay clean; one device sync per level and step; default True).
        decoder (dict, optional): Shared top-down decoder over the quantised maps (built with
            ``in_channels=code_dim, num_levels=L``); its output is ``'token_features'``.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(
        self,
        *,
        in_channels: Sequence[int],
        codebook_sizes: Sequence[int] = (1024, 512, 256, 128),
        code_dim: int = 256,
        rescales: Sequence[float] = (4, 2, 1, 0.5),
        rescale_mode: str = 'deconv',
        compose: bool = True,
        decay: float = 0.99,
        beta: float = 0.25,
        restart_after: int = 100,
        dead_window: int = 100,
        data_init: bool = True,
        kmeans_init: bool = False,
        kmeans_iters: int = 10,
        check_finite: bool = True,
        decoder: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels, codebook_sizes = list(in_channels), list(codebook_sizes)
        rescales = list(rescales)
        if not (len(in_channels) == len(codebook_sizes) == len(rescales)) or not in_channels:
            raise ValueError(
                'PyramidTokenizer needs one entry per pyramid level in in_channels, '
                f'codebook_sizes and rescales; got {len(in_channels)} ({in_channels}), '
                f'{len(codebook_sizes)} ({codebook_sizes}) and {len(rescales)} ({rescales})'
            )
        self.num_levels = len(in_channels)
        self.in_channels = in_channels
        self.codebook_sizes = codebook_sizes
        self.code_dim = code_dim
        self.compose = compose
        self.check_finite = check_finite
        self.projections = nn.ModuleList(nn.Conv2d(c, code_dim, 1) for c in in_channels)
        self.rescales = nn.ModuleList(build_rescale(s, code_dim, rescale_mode) for s in rescales)
        self.composers = nn.ModuleList(
            nn.Conv2d(code_dim, code_dim, 1) for _ in range(self.num_levels - 1)
        )
        self.quantizers = nn.ModuleList(
            EMAVectorQuantizer(
                num_codes=k,
                dim=code_dim,
                decay=decay,
                beta=beta,
                restart_after=restart_after,
                dead_window=dead_window,
                data_init=data_init,
                kmeans_init=kmeans_init,
                kmeans_iters=kmeans_iters,
            )
            for k in codebook_sizes
        )
        self.decoder = None
        if decoder is not None:
            decoder = dict(decoder)
            decoder.setdefault('in_channels', code_dim)
            decoder.setdefault('num_levels', self.num_levels)
            self.decoder = MODELS.build(decoder)

    def codebook(self, level: int) -> Tensor:
        """The codes of a level, [K_l, code_dim] (unit rows; a view of the buffer)."""
        return self.quantizers[level].codebook

    def forward(self, feats: dict[str, Any]) -> dict[str, Any]:
        """Tokenize the backbone's pyramid.

        Args:
            feats (dict): Backbone output with ``'pyramid'``: L maps [B, C_l, h, w].

        Returns:
            dict: ``feats`` plus ``'quantized'`` (L maps [B, d, h_l, w_l], straight-through),
            ``'latents'`` (the normalised maps that were quantised, same shapes),
            ``'indices'`` (L maps [B, h_l, w_l], long), ``'loss_vq'`` (scalar, sum of the
            levels' commitment losses), ``'perplexity'`` and ``'dead_codes'`` (L scalars
            each) and, with a decoder, ``'token_features'`` [B, C_dec, h_0, w_0].
        """
        pyramid = feats['pyramid'] if isinstance(feats, dict) else feats
        if len(pyramid) != self.num_levels:
            raise ValueError(
                f'PyramidTokenizer has {self.num_levels} levels (codebook_sizes '
                f'{self.codebook_sizes}) but the backbone gave {len(pyramid)} pyramid maps: '
                "make the backbone's out_indices and the neck's levels agree"
            )
        quantized, latents, indices = [], [], []
        losses, perplexity, dead = [], [], []
        previous = None
        for level, feat in enumerate(pyramid):
            if feat.shape[1] != self.in_channels[level]:
                raise ValueError(
                    f'PyramidTokenizer level {level}: expected {self.in_channels[level]} '
                    f'channels (in_channels), got a map of shape {tuple(feat.shape)}'
                )
            x = self.rescales[level](self.projections[level](feat))
            if self.compose and previous is not None:
                pooled = F.adaptive_avg_pool2d(previous, x.shape[-2:])
                x = x + self.composers[level - 1](pooled)
            z = F.normalize(x, dim=1)
            batch, dim, h, w = z.shape
            if self.check_finite and not bool(torch.isfinite(z).all()):
                # Checked before the quantiser, so a bad batch never reaches the EMA statistics.
                raise FloatingPointError(
                    f'PyramidTokenizer: the VQ loss of level {level} (codebook of '
                    f'{self.codebook_sizes[level]} codes) is not finite: its input features '
                    'are not finite (check the learning rate and the backbone output)'
                )
            out = self.quantizers[level](z.permute(0, 2, 3, 1).reshape(-1, dim))
            q = out.quantized.reshape(batch, h, w, dim).permute(0, 3, 1, 2)
            quantized.append(q.to(feat.dtype))
            latents.append(z)
            indices.append(out.indices.reshape(batch, h, w))
            losses.append(out.loss)
            perplexity.append(out.perplexity)
            dead.append(out.dead_codes)
            previous = q
        outputs = dict(feats) if isinstance(feats, dict) else {'pyramid': pyramid}
        outputs.update(
            quantized=quantized,
            latents=latents,
            indices=indices,
            loss_vq=torch.stack(losses).sum(),
            perplexity=perplexity,
            dead_codes=dead,
        )
        if self.decoder is not None:
            outputs['token_features'] = self.decoder(quantized)
        return outputs

    def log_vars(self, outputs: dict[str, Any]) -> dict[str, Tensor]:
        """The loss and the statistics a segmentor adds to its training log.

        Args:
            outputs (dict): The output of :meth:`forward`.

        Returns:
            dict: ``'loss_vq'`` and, per level l, ``'perplexity_l{l}'`` and
            ``'dead_codes_l{l}'`` (not losses: logged, not summed).
        """
        logs = {'loss_vq': outputs['loss_vq']}
        for level, (ppl, dead) in enumerate(zip(outputs['perplexity'], outputs['dead_codes'])):
            logs[f'perplexity_l{level}'] = ppl.detach()
            logs[f'dead_codes_l{level}'] = dead.detach()
        return logs
