"""``MultiPromptHead``: MVP-SEG's multi-view learned prompts over frozen dense CLIP features.

See ``docs/methods/mvp_seg.md``. With ``F`` the normalised dense CLIP map [B, D, h, w] and
``T_i`` [C, D] the vocabulary encoded after prompt ``i``'s learned context:

- mask maps ``m_i = F . T_i`` (cosines) for the k segmentation prompts and the global one;
- fusion ``m_f = softmax_c(tau1 * sum_i m_i)``;
- global prompt refining (GPR): ``g_c = sigmoid(sum_hw(m_0 * softmax_hw(gamma * m_0)) / tau2)``;
- final masks ``m = m_f * g``; the head returns ``log m`` (argmax as usual in mmseg's predict).

Prompts are class-agnostic (learned context vectors before the class name), so any vocabulary
works at inference: the segmentor's run-time vocabulary, a demo's ``--vocab``.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

# Default losses (read-only: the registry builds from copies); None disables loss_cls / loss_oc.
LOSS_SEG = dict(type='FusedMaskNLLLoss', loss_weight=1.0)
LOSS_CLS = dict(type='PresenceBCELoss', loss_weight=1.0)
LOSS_OC = dict(type='OCLoss', loss_weight=1.0)


def fuse_masks(masks: Tensor, tau1: Tensor | float) -> Tensor:
    """Log of MVP-SEG's fused masks ``softmax_c(tau1 * sum_i m_i)``.

    Args:
        masks (Tensor): Per-prompt mask maps [B, k, C, h, w].
        tau1: Temperature (a CLIP-like logit scale).

    Returns:
        Tensor: Log-probabilities [B, C, h, w].
    """
    return torch.log_softmax(tau1 * masks.sum(dim=1), dim=1)


def refine_scores(global_masks: Tensor, gamma: Tensor | float, tau2: Tensor | float) -> Tensor:
    """Logits of the global prompt refining scores ``g = sigmoid(logits)``.

    ``logits_c = sum_hw(m_0^c * softmax_hw(gamma * m_0^c)) / tau2``: a soft maximum of the
    global prompt's mask of each class over the image.

    Args:
        global_masks (Tensor): The global prompt's mask maps [B, C, h, w].
        gamma: Sharpness of the spatial softmax.
        tau2: Temperature of the scores.

    Returns:
        Tensor: [B, C].
    """
    flat = global_masks.flatten(2)  # [B, C, hw]
    attention = torch.softmax(gamma * flat, dim=-1)
    return (flat * attention).sum(dim=-1) / tau2


@MODELS.register_module()
class MultiPromptHead(BaseDecodeHead):
    """MVP-SEG head: k segmentation prompts, one global prompt, fusion and GPR.

    Needs the segmentor's ``'dense'`` map and ``'encode_prompts'`` function
    (``OpenVocabEncoderDecoder``); all prompts of a step are encoded in one batched pass of the
    frozen text encoder. Trainable: the context vectors ``seg_context`` [k, n_ctx, W] and
    ``global_context`` [1, n_ctx, W] (with GPR), ``tau1``, ``tau2`` and ``gamma`` (stored as
    logarithms, so they stay positive).

    Args:
        num_prompts (int): k, the segmentation prompts (paper's best: 3).
        n_ctx (int): Context vectors per prompt (our choice: 8).
        context_width (int, optional): Width of the text encoder's token embeddings; None
            takes it from the segmentor's text encoder at build.
        context_std (float): Std of the context initialisation N(0, std) (our choice: 0.02).
        context_init (str, optional): CoOp's initialisation from words: the token embeddings
            of this phrase (e.g. ``'a photo of a'``) fill the last context vectors of every
            prompt, before the class name, so that the prompts start as the hand-made template;
            the N(0, ``context_std``) noise is added on top so that the k prompts differ
            (OCLoss has no gradient between equal prompts). Needs a text encoder with
            ``phrase_embeddings`` and at most ``n_ctx`` tokens. None: random init only.
        use_gpr (bool): Global prompt refining (the global prompt, ``g`` and ``loss_cls``).
        tau1 (float): Initial fusion temperature (our choice: 50, CLIP-like).
        tau2 (float): Initial GPR temperature (our choice: 0.07).
        gamma (float): Initial GPR spatial sharpness (our choice: 10).
        learn_temperatures (bool): Train ``tau1``, ``tau2`` and ``gamma``.
        loss_decode (dict | list): The segmentation loss on ``log m`` (default
            ``FusedMaskNLLLoss``, ``loss_seg``).
        loss_cls (dict, optional): The image-level loss on the GPR logits (default
            ``PresenceBCELoss``, ``loss_cls``); unused without GPR.
        loss_oc (dict, optional): The orthogonality loss on the segmentation prompts
            (default ``OCLoss``, ``loss_oc``); None disables it.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes`` follows the vocabulary;
            ``in_channels``/``channels`` are unused).
    """

    uses_class_embeddings = False  # the head encodes the vocabulary with its own prompts

    def __init__(
        self,
        *,
        num_prompts: int = 3,
        n_ctx: int = 8,
        context_width: int | None = None,
        context_std: float = 0.02,
        context_init: str | None = None,
        use_gpr: bool = True,
        tau1: float = 50.0,
        tau2: float = 0.07,
        gamma: float = 10.0,
        learn_temperatures: bool = True,
        loss_decode: ConfigType | list = LOSS_SEG,
        loss_cls: ConfigType | None = LOSS_CLS,
        loss_oc: ConfigType | None = LOSS_OC,
        num_classes: int = 2,
        in_channels: int = 1,
        channels: int = 1,
        init_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        if num_prompts < 1:
            raise ValueError(f'num_prompts (k) must be >= 1, got {num_prompts}')
        if n_ctx < 1:
            raise ValueError(f'n_ctx must be >= 1, got {n_ctx}')
        super().__init__(
            in_channels=in_channels,
            channels=channels,
            num_classes=max(num_classes, 2),
            loss_decode=copy.deepcopy(loss_decode),
            init_cfg=init_cfg,
            **kwargs,
        )
        del self.conv_seg  # the classifier is the prompted text embeddings
        self.num_classes = self.out_channels = num_classes
        self.num_prompts = num_prompts
        self.n_ctx = n_ctx
        self.context_std = context_std
        self.context_init = context_init
        self.use_gpr = use_gpr
        for name, value in (('tau1', tau1), ('tau2', tau2), ('gamma', gamma)):
            if value <= 0:
                raise ValueError(f'{name} must be > 0, got {value}')
            param = nn.Parameter(torch.tensor(math.log(value)), requires_grad=learn_temperatures)
            setattr(self, f'log_{name}', param)
        use_cls = use_gpr and loss_cls is not None
        self.loss_cls = MODELS.build(copy.deepcopy(loss_cls)) if use_cls else None
        self.loss_oc = MODELS.build(copy.deepcopy(loss_oc)) if loss_oc is not None else None
        self.seg_context: nn.Parameter | None = None  # [k, n_ctx, W]
        self.global_context: nn.Parameter | None = None  # [1, n_ctx, W] (GPR)
        if context_width is not None:
            self._make_context(context_width)

    # ------------------------------------------------------------------ prompts
    def _make_context(self, width: int) -> None:
        def init(rows: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(rows, self.n_ctx, width) * self.context_std)

        self.seg_context = init(self.num_prompts)
        self.global_context = init(1) if self.use_gpr else None

    def bind_text_encoder(self, encoder: nn.Module) -> None:
        """Size the context vectors for the segmentor's text encoder (called at build)."""
        width = int(encoder.width)
        if self.seg_context is None:
            self._make_context(width)
        elif self.seg_context.shape[-1] != width:
            raise ValueError(
                f'MultiPromptHead: context_width={self.seg_context.shape[-1]} but the text '
                f'encoder {getattr(encoder, "preset", "")!r} has width {width}; drop context_width'
            )
        if self.context_init:
            self._init_context_from_phrase(encoder)

    def _init_context_from_phrase(self, encoder: nn.Module) -> None:
        embed = getattr(encoder, 'phrase_embeddings', None)
        if embed is None:
            raise TypeError(
                f'MultiPromptHead(context_init={self.context_init!r}) needs a text encoder with '
                f'phrase_embeddings(); {type(encoder).__name__} has none: set context_init=None'
            )
        phrase = embed(self.context_init)  # [n, W]
        count = phrase.shape[0]
        if count > self.n_ctx:
            raise ValueError(
                f'MultiPromptHead: context_init {self.context_init!r} has {count} tokens, more '
                f'than n_ctx={self.n_ctx}: raise n_ctx or shorten the phrase'
            )
        with torch.no_grad():
            for context in (self.seg_context, self.global_context):
                if context is not None:
                    context[:, self.n_ctx - count :] += phrase.to(context)

    def check_vocabulary(self, class_names: list, encoder: nn.Module) -> None:
        """Refuse a class name that does not fit after the context vectors (named)."""
        encoder.prompt_tokens(class_names, self.n_ctx)

    def init_weights(self) -> None:
        """Keep the configured context init and temperatures (no classifier to initialise)."""

    # ------------------------------------------------------------------ forward
    def forward_parts(self, inputs: dict) -> dict[str, Tensor]:
        """All intermediate results.

        Args:
            inputs (dict): ``'dense'`` [B, D, h, w] and ``'encode_prompts'``
                (contexts ``[P_j, n_ctx, W]`` -> ``[sum P_j, C, D]``), from the segmentor.

        Returns:
            dict: ``'masks'`` [B, k, C, h, w] (per-prompt cosines), ``'log_masks'``
            [B, C, h, w] (log of the final masks) and, with GPR, ``'global_masks'``
            [B, C, h, w] and ``'presence_logits'`` [B, C].
        """
        if self.seg_context is None:
            raise RuntimeError(
                'MultiPromptHead has no context vectors: build it inside '
                'OpenVocabEncoderDecoder or give context_width'
            )
        dense = F.normalize(inputs['dense'], dim=1)
        contexts = [self.seg_context]
        if self.use_gpr:  # the global prompt first; all prompts in one text-encoder pass
            contexts.insert(0, self.global_context)
        texts = inputs['encode_prompts'](contexts).to(dense.dtype)  # [P, C, D]
        if texts.shape[-1] != dense.shape[1]:
            raise ValueError(
                f'Dense image embeddings have {dense.shape[1]} channels but prompt embeddings '
                f'have {texts.shape[-1]}: backbone and text encoder come from different CLIPs.'
            )
        all_masks = torch.einsum('bdhw,pcd->bpchw', dense, texts)
        masks = all_masks[:, int(self.use_gpr) :]
        log_masks = fuse_masks(masks, self.log_tau1.exp())
        parts = dict(masks=masks, log_masks=log_masks)
        if self.use_gpr:
            global_masks = all_masks[:, 0]
            logits = refine_scores(global_masks, self.log_gamma.exp(), self.log_tau2.exp())
            parts.update(global_masks=global_masks, presence_logits=logits)
            parts['log_masks'] = log_masks + F.logsigmoid(logits)[:, :, None, None]
        return parts

    def forward(self, inputs: dict) -> Tensor:
        """Log of the final masks [B, C, h, w] (see :meth:`forward_parts`)."""
        return self.forward_parts(inputs)['log_masks']

    def loss(self, inputs: dict, batch_data_samples: SampleList, train_cfg: ConfigType) -> dict:
        """``loss_seg`` (and the other ``loss_decode`` terms), ``loss_cls``, ``loss_oc``.

        Args:
            inputs (dict): As in :meth:`forward_parts`.
            batch_data_samples (list[SegDataSample]): With ``gt_sem_seg``.
            train_cfg (dict): Unused.

        Returns:
            dict: Loss components and ``acc_seg``.
        """
        parts = self.forward_parts(inputs)
        losses = self.loss_by_feat(parts['log_masks'], batch_data_samples)
        if self.loss_cls is not None:
            labels = self._stack_batch_gt(batch_data_samples).squeeze(1)
            losses[self.loss_cls.loss_name] = self.loss_cls(
                parts['presence_logits'], labels, ignore_index=self.ignore_index
            )
        if self.loss_oc is not None:
            losses[self.loss_oc.loss_name] = self.loss_oc(self.seg_context)
        return losses
