"""An encoder-decoder whose classes are text embeddings: the vocabulary changes at run time."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence

import torch
from mmengine.config import ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor

from mmpat.utils.vocabulary import parse_vocabulary, primary_name

from .config_vocabulary import ConfigVocabularyMixin


def _share_pretrained(cfg, pretrained: str | None):
    """``cfg`` with ``pretrained`` set when its class shares the segmentor's checkpoint
    (``shares_segmentor_pretrained = True``) and it names none (lists: each entry)."""
    if pretrained is None or cfg is None:
        return cfg
    if isinstance(cfg, (list, tuple)):
        return [_share_pretrained(item, pretrained) for item in cfg]
    kind = cfg.get('type')
    cls = MODELS.get(kind) if isinstance(kind, str) else kind
    if getattr(cls, 'shares_segmentor_pretrained', False) and cfg.get('pretrained') is None:
        cfg = copy.deepcopy(cfg)
        cfg['pretrained'] = pretrained
    return cfg


def _version(tensor: Tensor) -> int:
    """In-place modification counter (an inference-mode tensor, which has none, gives -1)."""
    try:
        return tensor._version
    except RuntimeError:
        return -1


@MODELS.register_module()
class OpenVocabEncoderDecoder(ConfigVocabularyMixin, EncoderDecoder):
    """mmseg ``EncoderDecoder`` with a text encoder and a run-time vocabulary.

    The backbone (e.g. ``CLIPPyramid``) returns a dict of features; this segmentor adds the
    current class embeddings under ``'class_embeddings'`` ([C, D], L2-normalised) and the
    (normalised) input images under ``'images'`` before the heads see it, so heads following
    the ``BaseDecodeHead`` template work unchanged in ``whole`` and ``slide`` inference, in
    ``loss`` and in ``_forward`` (FLOPs tools).

    Heads that learn prompts (e.g. ``MultiPromptHead``, MVP-SEG) also get
    ``'encode_prompts'`` (:meth:`encode_prompts`: contexts [P, n_ctx, W] -> [P, C, D]),
    encoding the current vocabulary after learned context vectors with the frozen text
    encoder (outside autograd, e.g. in slide inference, the result is cached until the
    context or the vocabulary changes). Such a head may define
    ``bind_text_encoder(encoder)`` (called once at build), ``check_vocabulary(names, encoder)``
    (called by :meth:`set_vocabulary`, to refuse a vocabulary early) and
    ``uses_class_embeddings = False`` (skips the template encoding).

    A head that decides some classes without text (``GroupViTZeroShotHead``: a leading
    'background' comes from a threshold) defines ``text_classes(names) -> entries``: only those
    entries are encoded (:attr:`text_class_names`; ``class_embeddings`` then has fewer rows than
    ``num_classes``). A head may also define ``upgrade_state_dict(state_dict, prefix)``, called
    when a checkpoint is loaded into the segmentor, to rename the keys of an older layout.

    The class embeddings are re-encoded when the text encoder's weights change after the
    vocabulary was set (a checkpoint loaded, a trained text encoder): :attr:`class_embeddings`
    always matches the current weights.

    A backbone that returns a tuple of maps (mmseg's ResNet) is passed on as
    ``{'features': maps}``.

    ``pretrained`` is mmseg's: the backbone's weights file, which ``mmseg.apis.init_model``
    clears before loading a checkpoint. A text encoder or head whose class sets
    ``shares_segmentor_pretrained = True`` (GroupViT's: one checkpoint holds every part) gets
    it too, unless its config names a file itself.

    A neck may add its own training losses and statistics: when it has a
    ``log_vars(outputs) -> dict`` method (e.g. ``PyramidTokenizer``: ``loss_vq``, codebook
    perplexity and dead-code fraction per level), :meth:`loss` adds them to the loss dict
    (keys with ``loss`` are summed into the total, the others are only logged). A neck with
    ``num_levels`` must match the backbone's ``out_indices`` (checked at build).

    Args:
        backbone (dict): Image encoder config; returns a dict of features (or a tuple of maps).
        decode_head (dict): Head config; its ``num_classes`` is reset with the vocabulary.
        text_encoder (dict): Text encoder config (``encode_vocabulary(names) -> [C, D]``).
        class_names (Sequence[str], optional): Initial vocabulary. Entries may hold synonyms
            ("dog, puppy" or a list). If None, set it later with :meth:`set_vocabulary`
            (``VocabularyHook`` does so from the dataset's classes). Outside a runner,
            ``mmseg.apis.init_model`` / ``MMSegInferencer`` give the model the classes of the
            checkpoint's ``meta.dataset_meta``, else of the config's test dataset (never
            mmseg's Cityscapes default): see :mod:`.config_vocabulary`.
        templates (str | Sequence[str], optional): Prompt templates for the text encoder
            (None: the encoder's default).
        pretrained (str, optional): Weights file of the backbone (and of the parts that share
            it, see above).
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
        if pretrained is not None:  # mmseg sets backbone.pretrained (an attribute)
            backbone = ConfigDict(backbone)
        text_encoder = _share_pretrained(text_encoder, pretrained)
        decode_head = _share_pretrained(decode_head, pretrained)
        auxiliary_head = _share_pretrained(auxiliary_head, pretrained)
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
        self.text_class_names: list[str | list[str]] = []
        self.register_buffer('_class_embeddings', torch.empty(0), persistent=False)
        self._encoded_version: tuple | None = None
        self._prompt_cache: tuple[tuple, Tensor] | None = None
        for head in self._heads():
            bind = getattr(head, 'bind_text_encoder', None)
            if bind is not None:
                bind(self.text_encoder)
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
        for head in self._heads():
            check = getattr(head, 'check_vocabulary', None)
            if check is not None:
                check(names, self.text_encoder)
        if len(names) < 2:
            raise ValueError(
                f'The vocabulary {[primary_name(n) for n in names]} has one class: every pixel '
                "would be that class. Give at least two classes (e.g. add 'background')."
            )
        templates = self.templates if templates is None else templates
        entries = self._text_classes(names)
        embeddings = self._encode(entries, templates)
        self.templates = templates
        self.text_class_names = entries
        self._class_embeddings = embeddings
        self._encoded_version = self._text_weights_version()
        self.class_names = names
        self._prompt_cache = None
        num_classes = len(names)
        self.num_classes = self.out_channels = num_classes
        for head in self._heads():
            head.num_classes = head.out_channels = num_classes
        self._record_vocabulary(names, palette)

    def _text_classes(self, names: list) -> list:
        """The entries to text-encode: what the heads' ``text_classes`` say (they must agree),
        else all."""
        chosen = None
        for head in self._heads():
            select = getattr(head, 'text_classes', None)
            if select is None:
                continue
            entries = list(select(names))
            if chosen is not None and entries != chosen:
                raise ValueError(
                    'the heads disagree on which classes to text-encode '
                    f'({chosen} vs {entries} by {type(head).__name__})'
                )
            chosen = entries
        return list(names) if chosen is None else chosen

    def _text_weights_version(self) -> tuple:
        """Changes whenever a text encoder parameter or buffer (e.g. BatchNorm statistics) is
        replaced or modified in place: a checkpoint loaded, an optimizer step. (mmengine's DDP
        wrapper does not rewrite buffers at each step: ``broadcast_buffers=False``.)"""
        tensors = itertools.chain(self.text_encoder.parameters(), self.text_encoder.buffers())
        return tuple((t.data_ptr(), _version(t)) for t in tensors)

    def _encode(self, entries: list, templates) -> Tensor:
        """Embeddings [len(entries), D] with the current text encoder weights (no autograd)."""
        device = next(self.parameters()).device
        if not any(getattr(head, 'uses_class_embeddings', True) for head in self._heads()):
            return torch.zeros(len(entries), 0, device=device)
        with torch.no_grad():
            embeddings = self.text_encoder.encode_vocabulary(entries, templates=templates)
        return embeddings.to(device)

    @property
    def class_embeddings(self) -> Tensor:
        """Embeddings [C_text, D] of :attr:`text_class_names` (L2-normalised; empty without a
        vocabulary), re-encoded first if the text encoder's weights changed since."""
        if self.class_names:
            version = self._text_weights_version()
            if version != self._encoded_version:
                self._class_embeddings = self._encode(self.text_class_names, self.templates)
                self._encoded_version = version
        return self._class_embeddings

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        for head in self._heads():
            upgrade = getattr(head, 'upgrade_state_dict', None)
            if upgrade is not None:
                upgrade(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

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

    def _heads(self) -> list:
        heads = [self.decode_head]
        if self.with_auxiliary_head:
            aux = self.auxiliary_head
            heads += list(aux) if isinstance(aux, torch.nn.ModuleList) else [aux]
        return heads

    def encode_prompts(self, contexts: Tensor | Sequence[Tensor]) -> Tensor:
        """The current vocabulary encoded after learned context vectors.

        Args:
            contexts: [P, n_ctx, W] context vectors (W = text width), or several such
                tensors (e.g. a head's parameters), encoded together in one pass.

        Returns:
            Tensor: [P, C, D] (P summed over the tensors), L2-normalised. Cached while
            autograd is off and neither the contexts nor the vocabulary change, so slide
            inference runs the text encoder once, not once per crop.
        """
        contexts = [contexts] if torch.is_tensor(contexts) else list(contexts)
        if torch.is_grad_enabled() and any(c.requires_grad for c in contexts):
            return self.text_encoder.encode_with_prompts(torch.cat(contexts), self.class_names)
        key = (id(self.class_names), *((c.data_ptr(), c._version, c.shape) for c in contexts))
        if self._prompt_cache is None or self._prompt_cache[0] != key:
            with torch.no_grad():
                encoded = self.text_encoder.encode_with_prompts(
                    torch.cat(contexts), self.class_names
                )
            self._prompt_cache = (key, encoded)
        return self._prompt_cache[1]

    def extract_feat(self, inputs: Tensor) -> dict:
        """Image features plus ``'class_embeddings'`` [C, D].

        Args:
            inputs (Tensor): Images [B, 3, H, W].

        Returns:
            dict: The backbone (and neck) features with the class embeddings added.
        """
        self._resolve_vocabulary()
        if not self.class_names:
            raise RuntimeError(
                'OpenVocabEncoderDecoder has no vocabulary: pass class_names in the config, '
                'call model.set_vocabulary([...]), add VocabularyHook to custom_hooks, or '
                "build it with mmseg's init_model / MMSegInferencer (the vocabulary of the "
                "checkpoint's meta.dataset_meta or of the config's test dataset)."
            )
        feats = self.backbone(inputs)
        if isinstance(feats, (tuple, list)):
            feats = dict(features=tuple(feats))
        if not isinstance(feats, dict):
            raise TypeError(
                f'{type(self.backbone).__name__} returned {type(feats).__name__}; '
                'OpenVocabEncoderDecoder needs a backbone that returns a dict or a tuple of maps.'
            )
        if self.with_neck:
            feats = self.neck(feats)
        return dict(
            feats,
            class_embeddings=self.class_embeddings,
            images=inputs,
            encode_prompts=self.encode_prompts,
        )

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
