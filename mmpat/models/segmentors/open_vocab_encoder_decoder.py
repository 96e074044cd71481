"""An encoder-decoder whose classes are text embeddings: the vocabulary changes at run time."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.config import ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor

from mmpat.utils.vocabulary import class_palette, parse_vocabulary, primary_name


@MODELS.register_module()
class OpenVocabEncoderDecoder(EncoderDecoder):
    """mmseg ``EncoderDecoder`` with a text encoder and a run-time vocabulary.

    The backbone (e.g. ``CLIPPyramid``) returns a dict of features; this segmentor adds the
    current class embeddings under ``'class_embeddings'`` ([C, D], L2-normalised) and the
    (normalised) input images under ``'images'`` before the heads see it, so heads following
    the ``BaseDecodeHead`` template work unchanged in ``whole`` and ``slide`` inference, in
    ``loss`` and in ``_forward`` (FLOPs tools).

    A neck may add its own training losses and statistics: when it has a
    ``log_vars(outputs) -> dict`` method (e.g. ``PyramidTokenizer``: ``loss_vq``, codebook
    perplexity and dead-code fraction per level), :meth:`loss` adds them to the loss dict
    (keys with ``loss`` are summed into the total, the others are only logged). A neck with
    ``num_levels`` must match the backbone's ``out_indices`` (checked at build).

    Args:
        backbone (dict): Image encoder config; must return a dict of features.
        decode_head (dict): Head config; its ``num_classes`` is reset with the vocabulary.
        text_encoder (dict): Text encoder config (``encode_vocabulary(names) -> [C, D]``).
        class_names (Sequence[str], optional): Initial vocabulary. Entries may hold synonyms
            ("dog, puppy" or a list). If None, set it later with :meth:`set_vocabulary`
            (``VocabularyHook`` does so from the dataset's classes).
        templates (str | Sequence[str], optional): Prompt templates for the text encoder
            (None: the encoder's default).
        neck, auxiliary_head, train_cfg, test_cfg, data_preprocessor, init_cfg: As in mmseg.
    """

    def __init__(
        self,
        *,
        backbone: dict,
        decode_head: dict,
        text_encoder: dict,
        class_names: Sequence[str | Sequence[str]] | None = None,
        templates: str | Sequence[str] | None = None,
        neck: dict | None = None,
        auxiliary_head: dict | None = None,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        data_preprocessor: dict | None = None,
        pretrained: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        # mmseg reads test_cfg.mode: accept plain dicts too (built from Python, not a config).
        test_cfg = ConfigDict(test_cfg) if test_cfg is not None else None
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=auxiliary_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg,
        )
        self._check_levels()
        self.text_encoder = MODELS.build(text_encoder)
        self.templates = templates
        self.class_names: list[str | list[str]] = []
        self.register_buffer('class_embeddings', torch.empty(0), persistent=False)
        if class_names is not None:
            self.set_vocabulary(class_names)

    def set_vocabulary(
        self,
        class_names: Sequence[str | Sequence[str]] | str,
        templates: str | Sequence[str] | None = None,
        palette: Sequence[Sequence[int]] | None = None,
    ) -> None:
        """Encode a new vocabulary and make every part of the model use it.

        Args:
            class_names: Class names (entries may hold synonyms), or one string
                "cat; dog, puppy; sky".
            templates: Prompt templates (None keeps the current ones).
            palette: Colours per class (default: a deterministic palette).

        Raises:
            ValueError: Empty or one-class vocabulary, or duplicate class names.
        """
        names = parse_vocabulary(class_names)
        if len(names) < 2:
            raise ValueError(
                f'The vocabulary {[primary_name(n) for n in names]} has one class: every pixel '
                "would be that class. Give at least two classes (e.g. add 'background')."
            )
        if templates is not None:
            self.templates = templates
        device = next(self.parameters()).device
        with torch.no_grad():
            embeddings = self.text_encoder.encode_vocabulary(names, templates=self.templates)
        self.class_embeddings = embeddings.to(device)
        self.class_names = names
        num_classes = len(names)
        self.num_classes = self.out_channels = num_classes
        for head in [self.decode_head, *self._auxiliary_heads()]:
            head.num_classes = head.out_channels = num_classes
        display = [primary_name(n) for n in names]
        self.dataset_meta = dict(
            classes=tuple(display),
            palette=[list(c) for c in (palette or class_palette(num_classes))],
        )

    def _check_levels(self) -> None:
        levels = getattr(self.neck, 'num_levels', None) if self.with_neck else None
        out_indices = getattr(self.backbone, 'out_indices', None)
        if levels is not None and out_indices is not None and levels != len(out_indices):
            raise ValueError(
                f'{type(self.neck).__name__} has {levels} levels '
                f'(codebook_sizes {getattr(self.neck, "codebook_sizes", "?")}) but the backbone '
                f'{type(self.backbone).__name__} gives {len(out_indices)} maps (out_indices '
                f'{tuple(out_indices)}): give the neck one level per backbone output'
            )

    def _auxiliary_heads(self) -> list:
        if not self.with_auxiliary_head:
            return []
        heads = self.auxiliary_head
        return list(heads) if isinstance(heads, torch.nn.ModuleList) else [heads]

    def extract_feat(self, inputs: Tensor) -> dict:
        """Image features plus ``'class_embeddings'`` [C, D].

        Args:
            inputs (Tensor): Images [B, 3, H, W].

        Returns:
            dict: The backbone (and neck) features with the class embeddings added.
        """
        if self.class_embeddings.numel() == 0:
            raise RuntimeError(
                'OpenVocabEncoderDecoder has no vocabulary: pass class_names in the config, '
                'call model.set_vocabulary([...]) or add VocabularyHook to custom_hooks.'
            )
        feats = self.backbone(inputs)
        if not isinstance(feats, dict):
            raise TypeError(
                f'{type(self.backbone).__name__} returned {type(feats).__name__}; '
                'OpenVocabEncoderDecoder needs a backbone that returns a dict of features.'
            )
        if self.with_neck:
            feats = self.neck(feats)
        return dict(feats, class_embeddings=self.class_embeddings, images=inputs)

    def loss(self, inputs: Tensor, data_samples) -> dict:
        """Losses of the heads plus the neck's own (see the class docstring).

        Args:
            inputs (Tensor): Images [B, 3, H, W].
            data_samples (list[SegDataSample]): With ``gt_sem_seg``.

        Returns:
            dict: Loss components (and logged statistics).
        """
        feats = self.extract_feat(inputs)
        losses = dict(self._decode_head_forward_train(feats, data_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(feats, data_samples))
        log_vars = getattr(self.neck, 'log_vars', None) if self.with_neck else None
        if log_vars is not None:
            losses.update(log_vars(feats))
        return losses
