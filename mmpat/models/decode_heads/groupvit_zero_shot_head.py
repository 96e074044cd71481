"""``GroupViTZeroShotHead``: GroupViT's zero-shot segmentation as a decode head.

GroupViT (Xu et al., CVPR 2022) segments by naming its final groups; ``docs/methods/groupvit.md``
describes the protocol as mmpat runs it. Per crop, from the ``GroupViT`` backbone's outputs and
the segmentor's class embeddings T [C_text, D]:

1. the soft assignments of the grouping stages, multiplied stage by stage, give every image
   token's assignment to the final groups; resized (bilinear) to the crop, each pixel joins its
   highest-scoring group (one-hot);
2. the final group tokens and the image embedding (their mean) go through the image projector
   and are L2-normalised: G [S, D], a [D];
3. group scores ``S = s G T^T`` with ``s = exp(logit_scale)`` clamped at 100;
4. only the top-k classes of the whole-image prediction ``softmax(s a T^T)`` are kept:
   ``softmax(S restricted to them) * softmax(S)`` per group;
5. a pixel's class scores are its group's;
6. with a leading 'background' class (not text-encoded: :meth:`text_classes`), background is 1
   where the best foreground score is below ``min(bg_thresh, max S)``, else 0.

mmseg's whole / slide inference then averages these logits over crops (slide), removes padding
and resizes to the image, and takes the argmax. The head is inference-only: GroupViT learns
from captions (``GroupViTPretrain``).

Our defaults (config fields), as the reference protocol: ``topk=5``, ``bg_thresh=0.95``
(PASCAL VOC, COCO-Object; 0.35 for PASCAL Context), ``align_corners=False`` (assignment resize
and mmseg's final resize).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor, nn

from mmpat.utils.vocabulary import primary_name

from ..groupvit.projector import GroupViTProjector
from .text_classifier import require_open_vocab_inputs

_NEEDS = "the GroupViT backbone's 'soft_assigns', 'grid', 'tokens', 'pooled' and 'images'"


def is_background(entry: str | Sequence[str]) -> bool:
    """Whether a vocabulary entry is the 'background' class (first name, any case)."""
    return primary_name(entry).strip().lower() == 'background'


@MODELS.register_module()
class GroupViTZeroShotHead(BaseDecodeHead):
    """GroupViT's zero-shot protocol (see the module docstring) under ``OpenVocabEncoderDecoder``.

    Inputs (the segmentor's dict): the ``GroupViT`` backbone outputs (``soft_assigns``,
    ``grid``, ``tokens``, ``pooled``), ``images`` (the crop, for the output size) and
    ``class_embeddings`` [C_text, D] (``GroupViTTextEncoder``). The segmentor encodes only
    :meth:`text_classes` of its vocabulary: a leading 'background' is decided by the threshold,
    so the head has one more class than embeddings exactly when the vocabulary starts with
    'background'.

    Weights: ``img_projector`` (GroupViT's image projector) and GroupViT's two learned
    temperatures ``logit_scale`` (used here) and ``multi_label_logit_scale`` (used by the
    multi-label loss of ``GroupViTPretrain``; kept so that one layout holds a whole GroupViT
    checkpoint).

    Args:
        in_channels (int): Width of the backbone's tokens (GroupViT-S: 384).
        proj (dict, optional): Image projector sizes ``dict(hidden_dim=..., out_dim=...)``;
            None for GroupViT-S's (4096, 256).
        bg_thresh (float): Background threshold.
        topk (int): Classes kept by the whole-image filter (k = min(topk, C_text)).
        pretrained (str, optional): A GroupViT checkpoint (released ``.pth``, HF state dict or
            mmpat checkpoint) whose image projector and temperatures are loaded.
        num_classes (int): Reset by the segmentor's vocabulary.
        align_corners (bool): For resizing assignments (and mmseg's final resize).
        **kwargs: Other ``BaseDecodeHead`` arguments (``channels`` is unused).
    """

    # Under OpenVocabEncoderDecoder, the segmentor's ``pretrained`` (a whole GroupViT
    # checkpoint) is this part's too.
    shares_segmentor_pretrained = True

    def __init__(
        self,
        *,
        in_channels: int = 384,
        proj: dict | None = None,
        bg_thresh: float = 0.95,
        topk: int = 5,
        pretrained: str | None = None,
        num_classes: int = 0,
        channels: int = 1,
        align_corners: bool = False,
        init_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        # Never used (inference-only head); avg_non_ignore only silences mmseg's warning.
        kwargs.setdefault('loss_decode', dict(type='CrossEntropyLoss', avg_non_ignore=True))
        super().__init__(
            in_channels=in_channels,
            channels=channels,
            num_classes=max(num_classes, 2),
            out_channels=max(num_classes, 2),
            align_corners=align_corners,
            init_cfg=init_cfg,
            **kwargs,
        )
        del self.conv_seg  # classes are text embeddings
        self.num_classes = self.out_channels = num_classes
        proj = dict(hidden_dim=4096, out_dim=256) if proj is None else proj
        self.img_projector = GroupViTProjector(in_dim=in_channels, **proj)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.multi_label_logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        if topk < 1:
            raise ValueError(f'topk must be >= 1, got {topk}')
        self.bg_thresh = float(bg_thresh)
        self.topk = int(topk)
        if pretrained is not None:
            from ..groupvit.convert import load_groupvit_part

            load_groupvit_part(self, pretrained, 'decode_head.')

    def init_weights(self) -> None:
        """Nothing to initialise: the projector is built initialised, the scales at 1/0.07."""

    # ------------------------------------------------------------------ segmentor hooks
    @staticmethod
    def text_classes(class_names: Sequence) -> list:
        """The vocabulary entries the segmentor text-encodes: all but a leading 'background'."""
        names = list(class_names)
        return names[1:] if names and is_background(names[0]) else names

    @staticmethod
    def check_vocabulary(class_names: Sequence, encoder: nn.Module | None = None) -> None:
        """Refuse a vocabulary with fewer than 2 output classes."""
        names = list(class_names)
        if len(names) < 2:
            raise ValueError(
                f'GroupViT zero-shot needs at least 2 output classes (got {names}); add '
                "'background' first or another class."
            )

    def upgrade_state_dict(self, state_dict: dict, prefix: str) -> None:
        """Rename a legacy mmpat GroupViT checkpoint's keys (projectors and temperatures at
        the segmentor's top level) to this layout; called by the segmentor on load."""
        from ..groupvit.convert import upgrade_legacy_keys

        upgrade_legacy_keys(state_dict, prefix)

    # ------------------------------------------------------------------ protocol
    def has_background(self, num_texts: int) -> bool:
        """Whether channel 0 is the threshold background, given C_text class embeddings.

        Raises:
            ValueError: ``num_classes`` is neither C_text nor C_text + 1.
        """
        extra = self.num_classes - num_texts
        if extra not in (0, 1):
            raise ValueError(
                f'{type(self).__name__}: {num_texts} class embeddings for num_classes='
                f'{self.num_classes}; the segmentor must encode text_classes(vocabulary) '
                "(all classes but a leading 'background')"
            )
        return extra == 1

    def group_assignment(self, feats: dict, size: Sequence[int]) -> Tensor:
        """Soft assignments multiplied over the stages, resized to ``size``.

        Args:
            feats (dict): Backbone outputs.
            size (Sequence[int]): Output (H, W).

        Returns:
            Tensor: [B, S, H, W] assignment of each pixel to the final groups.
        """
        assign = None
        for soft in feats['soft_assigns']:
            step = soft.transpose(1, 2)  # [B, N_in, S_out]
            assign = step if assign is None else assign @ step
        batch, _, groups = assign.shape
        h, w = feats['grid']
        assign = assign.transpose(1, 2).reshape(batch, groups, h, w)
        return F.interpolate(
            assign, size=tuple(size), mode='bilinear', align_corners=self.align_corners
        )

    def group_class_scores(
        self, feats: dict, texts: Tensor, group_logits: Tensor | None = None
    ) -> Tensor:
        """Class scores of the final groups (steps 2-4 of the module docstring).

        Args:
            feats (dict): Backbone outputs.
            texts (Tensor): Class embeddings [C_text, D], L2-normalised.
            group_logits (Tensor, optional): [B, S, C_text] logits to name the groups by
                instead of ``s G T^T`` (diagnostics, e.g. ``GroupViTPretrain.
                token_group_logits``); the top-k filter still comes from the image embedding.

        Returns:
            Tensor: [B, S, C_text] ``softmax(top-k filtered scores) * softmax(scores)``.
        """
        image_emb = F.normalize(self.img_projector(feats['pooled']), dim=-1)  # [B, D]
        scale = self.logit_scale.exp().clamp(max=100)
        scores = group_logits
        if scores is None:
            group_emb = F.normalize(self.img_projector(feats['tokens']), dim=-1)  # [B, S, D]
            scores = scale * group_emb @ texts.t()  # [B, S, C]
        prior = scores.softmax(dim=-1)
        k = min(self.topk, texts.shape[0])
        top = (scale * image_emb @ texts.t()).softmax(dim=-1).topk(k, dim=-1).indices  # [B, k]
        # The value 1, not True: torch.jit.trace (FLOP counting) has no scatter_ for a bool.
        keep = torch.zeros_like(prior, dtype=torch.bool).scatter_(
            -1, top[:, None, :].expand(-1, scores.shape[1], -1), 1
        )
        return scores.masked_fill(~keep, float('-inf')).softmax(dim=-1) * prior

    def decode_groups(
        self,
        feats: dict,
        texts: Tensor,
        size: Sequence[int],
        group_logits: Tensor | None = None,
        background: bool | None = None,
    ) -> Tensor:
        """Zero-shot logits from backbone outputs (the whole protocol).

        Args:
            feats (dict): Backbone outputs.
            texts (Tensor): Class embeddings [C_text, D].
            size (Sequence[int]): Output (H, W), the crop size.
            group_logits (Tensor, optional): See :meth:`group_class_scores`.
            background (bool, optional): Whether to add the threshold background as channel
                0; None decides by :meth:`has_background`.

        Returns:
            Tensor: [B, C, H, W]; with background, channel 0 is the 0/1 background logit.
        """
        if background is None:
            background = self.has_background(texts.shape[0])
        assign = self.group_assignment(feats, size)
        scores = self.group_class_scores(feats, texts, group_logits)
        groups = assign.shape[1]
        onehot = F.one_hot(assign.argmax(dim=1), groups).permute(0, 3, 1, 2).to(scores.dtype)
        fg = torch.einsum('bshw,bsc->bchw', onehot, scores)
        if not background:
            return fg
        thr = scores.flatten(1).max(dim=1).values.clamp(max=self.bg_thresh)  # [B]
        bg = (fg.max(dim=1, keepdim=True).values < thr[:, None, None, None]).to(fg.dtype)
        return torch.cat([bg, fg], dim=1)

    def forward(self, inputs: dict) -> Tensor:
        """Zero-shot logits of a batch of crops.

        Args:
            inputs (dict): The segmentor's features (see the class docstring).

        Returns:
            Tensor: [B, C, H, W] at the crop size; with background, channel 0 is the 0/1
            background logit.

        Raises:
            TypeError: ``inputs`` lacks what the protocol reads (e.g. not a GroupViT backbone,
                or not under ``OpenVocabEncoderDecoder``).
        """
        require_open_vocab_inputs(self, inputs, _NEEDS)
        keys = ('soft_assigns', 'grid', 'tokens', 'pooled', 'images')
        missing = [k for k in keys if k not in inputs]
        if missing or not inputs['soft_assigns']:
            raise TypeError(
                f'{type(self).__name__} needs {_NEEDS} (a GroupViT backbone with at least one '
                f'grouping stage); missing {missing or ["soft_assigns (no grouping stage)"]}'
            )
        return self.decode_groups(inputs, inputs['class_embeddings'], inputs['images'].shape[2:])

    def predict_by_feat(self, seg_logits: Tensor, batch_img_metas: list[dict]) -> Tensor:
        """The logits as :meth:`forward` gives them: already at the crop (input) size, so
        nothing is resized here (mmseg removes padding and resizes to the image later)."""
        return seg_logits

    def loss(self, inputs, batch_data_samples, train_cfg) -> dict:
        raise NotImplementedError(
            'GroupViTZeroShotHead is inference-only; train GroupViT with GroupViTPretrain '
            '(image-caption pairs).'
        )
