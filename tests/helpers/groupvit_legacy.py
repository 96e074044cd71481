"""The GroupViT zero-shot segmentor as it was before the protocol became a decode head
(``GroupViTZeroShot`` at commit a36117d), kept verbatim apart from its name, imports and
registration: the reference the head and the segmentors are compared against
(tests/test_models/test_groupvit/test_head_equivalence.py). Not registered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.models.segmentors import BaseSegmentor, EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor, nn

from mmpat.models.groupvit import GroupViT, GroupViTProjector, get_groupvit_preset
from mmpat.models.groupvit.text_encoder import GroupViTTextTransformer as GroupViTTextEncoder
from mmpat.models.segmentors.config_vocabulary import ConfigVocabularyMixin
from mmpat.utils.vocabulary import parse_vocabulary, primary_name

IMAGENET_PREPROCESSOR = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
)


class LegacyGroupViTZeroShot(ConfigVocabularyMixin, EncoderDecoder):
    """GroupViT image/text encoders + the zero-shot segmentation protocol.

    State dict layout: ``backbone.*`` (image encoder), ``text_encoder.*``, ``img_projector.*``,
    ``text_projector.*``, ``logit_scale``, ``multi_label_logit_scale`` (see
    :mod:`mmpat.models.groupvit.convert`).

    With mmseg's ``init_model`` / ``inference_model`` / ``MMSegInferencer`` the vocabulary is
    the checkpoint's ``meta.dataset_meta`` classes, else the config's test dataset classes
    (:mod:`.config_vocabulary`); :attr:`decode_head` describes the protocol's output for the
    mmseg code that reads it (there is no decode head module).

    Args:
        arch (str | dict): GroupViT preset name or dict (see ``get_groupvit_preset``).
        backbone (dict, optional): Overrides of the image encoder arguments.
        class_names (Sequence, optional): Vocabulary; a first class 'background' is decided by
            the threshold and not text-encoded. Can be set later with :meth:`set_vocabulary`.
        templates (Sequence[str]): Prompt templates.
        bg_thresh (float): Background threshold (VOC/COCO-Object 0.95, Context 0.35).
        topk (int): Classes kept by the whole-image filter (k = min(topk, C)).
        align_corners (bool): For resizing assignments and the final logits.
        pretrained (str, optional): Local GroupViT checkpoint (released ``.pth``, HF state dict
            or mmpat checkpoint), converted on load.
        data_preprocessor (dict, optional): Default ImageNet mean/std, RGB.
        train_cfg (dict, optional): Unused here.
        test_cfg (dict, optional): mmseg inference mode (``whole`` or ``slide`` with
            ``crop_size``/``stride``).
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(
        self,
        *,
        arch: str | dict = 'GroupViT-S',
        backbone: dict | None = None,
        class_names: Sequence[str | Sequence[str]] | None = None,
        templates: Sequence[str] = ('a photo of a {}.',),
        bg_thresh: float = 0.95,
        topk: int = 5,
        align_corners: bool = False,
        pretrained: str | None = None,
        data_preprocessor: dict | None = None,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        # Built here through mmseg's registry so the default works without default_scope.
        preprocessor = MODELS.build(dict(data_preprocessor or IMAGENET_PREPROCESSOR))
        BaseSegmentor.__init__(self, data_preprocessor=preprocessor, init_cfg=init_cfg)
        self.arch_name = arch if isinstance(arch, str) else str(arch.get('base', 'custom'))
        preset = get_groupvit_preset(arch)
        image_cfg = dict(preset['image'], **(backbone or {}))
        self.backbone = GroupViT(**image_cfg)
        if not any(n > 0 for n in image_cfg.get('num_group_tokens', (1,))):
            raise ValueError('GroupViT zero-shot segmentation needs at least one grouping stage')
        self.text_encoder = GroupViTTextEncoder(**preset['text'])
        self.img_projector = GroupViTProjector(in_dim=self.backbone.embed_dim, **preset['proj'])
        self.text_projector = GroupViTProjector(in_dim=self.text_encoder.width, **preset['proj'])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.multi_label_logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.templates = list(templates)
        self.bg_thresh = float(bg_thresh)
        self.topk = int(topk)
        self.align_corners = align_corners
        self.train_cfg = ConfigDict(train_cfg or {})
        self.test_cfg = ConfigDict(test_cfg or dict(mode='whole'))
        self.class_names: list[str | list[str]] = []
        self.num_classes = self.out_channels = 0  # set with the vocabulary
        self.has_background = False
        self._class_embeddings: Tensor | None = None
        if pretrained is not None:
            raise NotImplementedError('the reference copy loads weights with load_state_dict')
        if class_names is not None:
            self.set_vocabulary(class_names)

    # ------------------------------------------------------------------ vocabulary
    def set_vocabulary(
        self,
        class_names: Sequence[str | Sequence[str]] | str,
        templates: Sequence[str] | None = None,
        palette: Sequence[Sequence[int]] | None = None,
    ) -> None:
        """Use a new vocabulary (the text embeddings are computed lazily and cached).

        Args:
            class_names: Class names ("cat; dog, puppy" string or list; synonyms allowed).
                A first class named 'background' is decided by ``bg_thresh``.
            templates: Prompt templates (None keeps the current ones).
            palette: Colours per class (default: a deterministic palette).

        Raises:
            ValueError: Empty/duplicate vocabulary or fewer than 2 output classes.
        """
        names = parse_vocabulary(class_names)
        has_bg = primary_name(names[0]).strip().lower() == 'background'
        if len(names) < 2:
            raise ValueError(
                f'GroupViT zero-shot needs at least 2 output classes (got {names}); add '
                "'background' first or another class."
            )
        if templates is not None:
            self.templates = list(templates)
        self.class_names = names
        self.has_background = has_bg
        self._class_embeddings = None
        self.num_classes = self.out_channels = len(names)
        self._record_vocabulary(names, palette)

    @property
    def decode_head(self) -> SimpleNamespace:
        """What mmseg reads of a decode head (``init_model``: ``num_classes``;
        ``postprocess_result`` / ``SegTTAModel``: ``threshold``, used for one output channel
        only, which the protocol never gives): the protocol's output, not a module."""
        return SimpleNamespace(
            num_classes=self.num_classes,
            out_channels=self.out_channels,
            align_corners=self.align_corners,
            threshold=0.3,
            ignore_index=255,
        )

    @property
    def text_classes(self) -> list[str | list[str]]:
        """The classes that are text-encoded (all but a leading 'background')."""
        return self.class_names[1:] if self.has_background else list(self.class_names)

    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        """L2-normalised projected text embeddings [T, D]."""
        tokens = self.text_encoder.tokenize(texts).to(self.logit_scale.device)
        return F.normalize(self.text_projector(self.text_encoder(tokens)), dim=-1)

    def encode_class_names(self, names: Sequence[str | Sequence[str]]) -> Tensor:
        """Class embeddings [C, D]: per class, the normalised mean over templates (and
        synonyms) of the normalised text embeddings."""
        prompts, owner = [], []
        for index, entry in enumerate(names):
            synonyms = [entry] if isinstance(entry, str) else list(entry)
            for synonym in synonyms:
                prompts += [t.format(synonym) for t in self.templates]
                owner += [index] * len(self.templates)
        embeddings = self.encode_texts(prompts)  # one batch for all prompts
        owner_t = torch.tensor(owner, device=embeddings.device)
        sums = embeddings.new_zeros(len(names), embeddings.shape[1]).index_add_(
            0, owner_t, embeddings
        )
        return F.normalize(sums, dim=-1)  # the mean's direction equals the sum's

    @property
    def class_embeddings(self) -> Tensor:
        """Text embeddings of :attr:`text_classes` [C_fg, D] (cached until weights change)."""
        self._resolve_vocabulary()
        if not self.class_names:
            raise RuntimeError(
                'GroupViTZeroShot has no vocabulary: pass class_names in the config, call '
                'model.set_vocabulary([...]), add VocabularyHook to custom_hooks, or build it '
                "with mmseg's init_model / MMSegInferencer (the vocabulary of the checkpoint's "
                "meta.dataset_meta or of the config's test dataset)."
            )
        if self._class_embeddings is None or self.training:
            was_training = self.training
            self.text_encoder.eval()
            self.text_projector.eval()
            with torch.no_grad():
                embeddings = self.encode_class_names(self.text_classes)
            self.text_encoder.train(was_training)
            self.text_projector.train(was_training)
            if was_training:
                return embeddings
            self._class_embeddings = embeddings
        return self._class_embeddings

    def train(self, mode: bool = True):
        """Switch mode; cached class embeddings are dropped (weights may have changed)."""
        self._class_embeddings = None
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._class_embeddings = None
        super()._load_from_state_dict(*args, **kwargs)

    # ------------------------------------------------------------------ protocol
    def extract_feat(self, inputs: Tensor) -> dict:
        """Image encoder outputs (see :meth:`GroupViT.forward`)."""
        return self.backbone(inputs)

    def group_assignment(self, feats: dict, size: tuple[int, int]) -> Tensor:
        """Soft assignments multiplied over the stages, resized to ``size``.

        Args:
            feats (dict): Backbone outputs.
            size (tuple[int, int]): Output (H, W).

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
        return F.interpolate(assign, size=size, mode='bilinear', align_corners=self.align_corners)

    def group_class_scores(self, feats: dict, group_logits: Tensor | None = None) -> Tensor:
        """Class scores S of the final groups (steps 3-6 of the protocol).

        Args:
            feats (dict): Backbone outputs.
            group_logits (Tensor, optional): [B, S, C] logits to name the groups by instead of
                ``s G T^T`` (diagnostics, e.g. :meth:`GroupViTPretrain.token_group_logits`);
                the top-k filter still comes from the image embedding.

        Returns:
            Tensor: [B, S, C] ``softmax(top-k filtered scores) * softmax(scores)`` per group.
        """
        text = self.class_embeddings
        image_emb = F.normalize(self.img_projector(feats['pooled']), dim=-1)  # [B, D]
        scale = self.logit_scale.exp().clamp(max=100)
        scores = group_logits
        if scores is None:
            group_emb = F.normalize(self.img_projector(feats['tokens']), dim=-1)  # [B, S, D]
            scores = scale * group_emb @ text.t()  # [B, S, C]
        prior = scores.softmax(dim=-1)
        k = min(self.topk, text.shape[0])
        top = (scale * image_emb @ text.t()).softmax(dim=-1).topk(k, dim=-1).indices  # [B, k]
        keep = torch.zeros_like(prior, dtype=torch.bool).scatter_(
            -1, top[:, None, :].expand(-1, scores.shape[1], -1), True
        )
        return scores.masked_fill(~keep, float('-inf')).softmax(dim=-1) * prior

    def encode_decode(self, inputs: Tensor, batch_img_metas: list[dict]) -> Tensor:
        """Zero-shot logits of a batch of crops.

        Args:
            inputs (Tensor): Normalised crops [B, 3, H, W].
            batch_img_metas (list[dict]): Unused (mmseg interface).

        Returns:
            Tensor: [B, C, H, W]; with background, channel 0 is the 0/1 background logit.
        """
        return self.decode_groups(self.extract_feat(inputs), inputs.shape[2:])

    def decode_groups(
        self, feats: dict, size: tuple[int, int], group_logits: Tensor | None = None
    ) -> Tensor:
        """Zero-shot logits from backbone outputs (steps 1-8 of the protocol).

        Args:
            feats (dict): Backbone outputs.
            size (tuple[int, int]): Output (H, W), the crop size.
            group_logits (Tensor, optional): See :meth:`group_class_scores`.

        Returns:
            Tensor: [B, C, H, W]; with background, channel 0 is the 0/1 background logit.
        """
        assign = self.group_assignment(feats, size)
        scores = self.group_class_scores(feats, group_logits)
        groups = assign.shape[1]
        onehot = F.one_hot(assign.argmax(dim=1), groups).permute(0, 3, 1, 2).to(scores.dtype)
        fg = torch.einsum('bshw,bsc->bchw', onehot, scores)
        if not self.has_background:
            return fg
        thr = scores.flatten(1).max(dim=1).values.clamp(max=self.bg_thresh)  # [B]
        bg = (fg.max(dim=1, keepdim=True).values < thr[:, None, None, None]).to(fg.dtype)
        return torch.cat([bg, fg], dim=1)

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """Raw zero-shot logits [B, C, H, W] (FLOPs tools)."""
        return self.encode_decode(inputs, [])

    def loss(self, inputs: Tensor, data_samples) -> dict:
        raise NotImplementedError(
            'GroupViTZeroShot is inference-only; train with GroupViTPretrain (captions).'
        )
