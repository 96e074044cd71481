"""``GroupViTZeroShot``: the former GroupViT zero-shot segmentor, kept as a compatibility alias.

Deprecated: GroupViT's zero-shot protocol is the decode head ``GroupViTZeroShotHead`` under
``OpenVocabEncoderDecoder`` (the ``GroupViT`` backbone, ``GroupViTTextEncoder``), as in
``configs/_base_/models/groupvit-s.py``; :func:`mmpat.models.groupvit.groupvit_zero_shot_cfg`
writes that config for any preset. ``GroupViTZeroShot(arch=..., ...)`` builds exactly that
model (same state dict layout, same logits) from the former arguments, and keeps the former
attribute names (``img_projector``, ``text_projector``, ``logit_scale``, ``has_background``,
``decode_groups``, ...) as aliases of the parts. ``GroupViTPretrain`` (training from captions)
builds on it.

Its parameters are drawn from the random generator in the former order (image encoder, text
transformer, image projector, text projector), so a seeded build gives the weights it gave
before the head existed. Checkpoints of the former layout (projectors and temperatures at the
top level) load into it and into the config-built segmentor (:func:`mmpat.models.groupvit.
upgrade_legacy_keys`, applied on load).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from mmpat.models.groupvit import (
    GroupViT,
    GroupViTProjector,
    GroupViTTextTransformer,
    get_groupvit_preset,
    groupvit_zero_shot_cfg,
    load_groupvit_weights,
)
from mmpat.models.groupvit.presets import IMAGENET_PREPROCESSOR

from .open_vocab_encoder_decoder import OpenVocabEncoderDecoder

__all__ = ['IMAGENET_PREPROCESSOR', 'GroupViTZeroShot']


@MODELS.register_module()
class GroupViTZeroShot(OpenVocabEncoderDecoder):
    """GroupViT zero-shot segmentor from a preset (deprecated alias; see the module docstring).

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
        if type(self) is GroupViTZeroShot:
            warnings.warn(
                'GroupViTZeroShot is deprecated: use OpenVocabEncoderDecoder with the GroupViT '
                'backbone, GroupViTTextEncoder and GroupViTZeroShotHead '
                '(configs/_base_/models/groupvit-s.py, groupvit_zero_shot_cfg)',
                DeprecationWarning,
                stacklevel=2,
            )
        cfg = groupvit_zero_shot_cfg(
            arch,
            backbone=backbone,
            templates=templates,
            bg_thresh=bg_thresh,
            topk=topk,
            align_corners=align_corners,
            data_preprocessor=data_preprocessor,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            init_cfg=init_cfg,
        )
        image_cfg = {k: v for k, v in cfg['backbone'].items() if k != 'type'}
        if not any(n > 0 for n in image_cfg.get('num_group_tokens', (1,))):
            raise ValueError('GroupViT zero-shot segmentation needs at least one grouping stage')
        cfg.pop('type')
        # Built here through mmseg's registry so the default works without default_scope.
        preprocessor = MODELS.build(cfg.pop('data_preprocessor'))
        rng = torch.random.get_rng_state()
        super().__init__(data_preprocessor=preprocessor, **cfg)
        self._draw_weights_in_former_order(rng, image_cfg, get_groupvit_preset(arch))
        self.arch_name = arch if isinstance(arch, str) else str(arch.get('base', 'custom'))
        if pretrained is not None:
            load_groupvit_weights(self, pretrained, self.arch_name)
        if class_names is not None:
            self.set_vocabulary(class_names)

    def _draw_weights_in_former_order(self, rng: Tensor, image_cfg: dict, preset: dict) -> None:
        """Re-draw the initial weights as the former segmentor did (same seed, same weights,
        same generator state afterwards): image encoder, text transformer, image projector,
        text projector."""
        torch.random.set_rng_state(rng)
        image = GroupViT(**image_cfg)
        text = GroupViTTextTransformer(**preset['text'])
        img_projector = GroupViTProjector(in_dim=image.embed_dim, **preset['proj'])
        text_projector = GroupViTProjector(in_dim=text.width, **preset['proj'])
        text_state = dict(text.state_dict())
        text_state.update({f'projector.{k}': v for k, v in text_projector.state_dict().items()})
        self.backbone.load_state_dict(image.state_dict())
        self.text_encoder.load_state_dict(text_state)
        self.decode_head.img_projector.load_state_dict(img_projector.state_dict())

    # ------------------------------------------------------------------ former names
    @property
    def img_projector(self) -> nn.Module:
        """The image projector (``decode_head.img_projector``)."""
        return self.decode_head.img_projector

    @property
    def text_projector(self) -> nn.Module:
        """The text projector (``text_encoder.projector``)."""
        return self.text_encoder.projector

    @property
    def logit_scale(self) -> nn.Parameter:
        """GroupViT's learned temperature (``decode_head.logit_scale``)."""
        return self.decode_head.logit_scale

    @property
    def multi_label_logit_scale(self) -> nn.Parameter:
        """The multi-label loss temperature (``decode_head.multi_label_logit_scale``)."""
        return self.decode_head.multi_label_logit_scale

    @property
    def bg_thresh(self) -> float:
        return self.decode_head.bg_thresh

    @property
    def topk(self) -> int:
        return self.decode_head.topk

    @property
    def has_background(self) -> bool:
        """Whether the vocabulary's first class is the threshold 'background'."""
        return len(self.text_class_names) < len(self.class_names)

    @property
    def text_classes(self) -> list:
        """The classes that are text-encoded (all but a leading 'background')."""
        return list(self.text_class_names)

    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        """L2-normalised projected text embeddings [T, D]."""
        return self.text_encoder.encode_texts(texts)

    def encode_class_names(self, names: Sequence[str | Sequence[str]]) -> Tensor:
        """Class embeddings [C, D] of ``names`` with the current templates."""
        return self.text_encoder.encode_vocabulary(list(names), templates=self.templates)

    def group_assignment(self, feats: dict, size: tuple[int, int]) -> Tensor:
        """See :meth:`GroupViTZeroShotHead.group_assignment`."""
        return self.decode_head.group_assignment(feats, size)

    def group_class_scores(self, feats: dict, group_logits: Tensor | None = None) -> Tensor:
        """See :meth:`GroupViTZeroShotHead.group_class_scores` (the current vocabulary)."""
        return self.decode_head.group_class_scores(feats, self.class_embeddings, group_logits)

    def decode_groups(
        self, feats: dict, size: tuple[int, int], group_logits: Tensor | None = None
    ) -> Tensor:
        """See :meth:`GroupViTZeroShotHead.decode_groups` (the current vocabulary)."""
        return self.decode_head.decode_groups(
            feats, self.class_embeddings, size, group_logits, background=self.has_background
        )
