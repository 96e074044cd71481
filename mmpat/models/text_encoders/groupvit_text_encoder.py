"""``GroupViTTextEncoder``: GroupViT's text tower as an open-vocabulary text encoder.

The causal transformer of :mod:`mmpat.models.groupvit.text_encoder` plus GroupViT's text
projector (Linear, BatchNorm1d, ReLU, Linear) into the joint image-text space (GroupViT,
Xu et al., CVPR 2022; see ``docs/methods/groupvit.md``). As the segmentor's ``text_encoder``
(``OpenVocabEncoderDecoder``) it encodes a vocabulary:

- ``encode_vocabulary(names, templates)`` -> [C, D], L2-normalised. Every (synonym, template)
  prompt of the vocabulary is encoded in one batch, each embedding L2-normalised; a class is the
  normalised sum of its prompts' embeddings (the direction of their mean). A string entry is one
  name (as the GroupViT zero-shot protocol has always read it: a "dog, puppy" string is one
  prompt text), a list entry gives synonyms.
- The projector's BatchNorm runs in eval mode while encoding, whatever the module's mode: a
  vocabulary encoded during training (e.g. before a validation of ``GroupViTPretrain``) uses
  the running statistics, as at test time.

``forward(tokens)`` stays the transformer alone ([T, width], before the projection), the
layout the released checkpoints and the training losses use.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ..groupvit.projector import GroupViTProjector
from ..groupvit.text_encoder import GroupViTTextTransformer
from .templates import get_templates

GROUPVIT_TEMPLATES = ('a photo of a {}.',)


@MODELS.register_module()
class GroupViTTextEncoder(GroupViTTextTransformer):
    """GroupViT text transformer + projector, with vocabulary encoding (defaults: GroupViT-S).

    State dict: the transformer's keys (``token_embedding``, ``positional_embedding``,
    ``transformer.*``, ``ln_final``) and ``projector.*`` (the released ``text_projector``).

    Args:
        context_length (int): Tokens per text (longer texts are truncated, EOT kept).
        vocab_size (int): BPE vocabulary (49408 for CLIP's).
        width (int): Channels.
        heads (int): Attention heads.
        layers (int): Blocks.
        mlp_ratio (float): MLP hidden / width.
        proj (dict, optional): Projector sizes ``dict(hidden_dim=..., out_dim=...)``; None
            for GroupViT-S's (4096, 256); an empty dict for no projector (token features
            only, no vocabulary encoding).
        templates (str | Sequence[str]): Default prompt templates (a template set name or
            templates with one ``{}``); GroupViT's protocol uses ``'a photo of a {}.'``.
        pretrained (str, optional): A GroupViT checkpoint (released ``.pth``, HF state dict or
            mmpat checkpoint) whose text transformer and text projector are loaded.
        init_cfg (dict, optional): mmengine init config.
    """

    # Under OpenVocabEncoderDecoder, the segmentor's ``pretrained`` (a whole GroupViT
    # checkpoint) is this part's too.
    shares_segmentor_pretrained = True

    def __init__(
        self,
        *,
        context_length: int = 77,
        vocab_size: int = 49408,
        width: int = 256,
        heads: int = 4,
        layers: int = 12,
        mlp_ratio: float = 4.0,
        proj: dict | None = None,
        templates: str | Sequence[str] = GROUPVIT_TEMPLATES,
        pretrained: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(
            context_length=context_length,
            vocab_size=vocab_size,
            width=width,
            heads=heads,
            layers=layers,
            mlp_ratio=mlp_ratio,
            init_cfg=init_cfg,
        )
        proj = dict(hidden_dim=4096, out_dim=256) if proj is None else proj
        self.projector = GroupViTProjector(in_dim=width, **proj) if proj else None
        self.templates = get_templates(templates)
        if pretrained is not None:
            from ..groupvit.convert import load_groupvit_part

            load_groupvit_part(self, pretrained, 'text_encoder.')

    @property
    def embed_dim(self) -> int:
        """Width of the joint image-text space (the projector's output)."""
        return self._require_projector().linear_out.out_features

    def _require_projector(self) -> GroupViTProjector:
        if self.projector is None:
            raise ValueError(
                'GroupViTTextEncoder was built with proj={} (no projector): it encodes token '
                'features only; give proj=dict(hidden_dim=..., out_dim=...) to encode texts'
            )
        return self.projector

    def encode_texts(self, texts: str | Sequence[str]) -> Tensor:
        """L2-normalised projected embeddings [T, D] of texts, in one batch (current mode)."""
        projector = self._require_projector()
        tokens = self.tokenize(texts).to(self.positional_embedding.device)
        return F.normalize(projector(self(tokens)), dim=-1)

    def encode_vocabulary(
        self,
        class_names: Sequence[str | Sequence[str]],
        templates: str | Sequence[str] | None = None,
    ) -> Tensor:
        """Class embeddings [C, D]: per class, the normalised sum over its (synonym, template)
        prompts of their normalised embeddings.

        Args:
            class_names: C entries; a string is one name, a list gives synonyms.
            templates: Template set name or templates (None: the encoder's ``templates``).

        Returns:
            Tensor: [C, D], L2-normalised, on the encoder's device.

        Raises:
            ValueError: No class, or no projector.
        """
        names = list(class_names)
        if not names:
            raise ValueError('GroupViTTextEncoder.encode_vocabulary: the vocabulary is empty')
        templates = self.templates if templates is None else get_templates(templates)
        prompts, owner = [], []
        for index, entry in enumerate(names):
            synonyms = [entry] if isinstance(entry, str) else list(entry)
            for synonym in synonyms:
                prompts += [t.format(synonym) for t in templates]
                owner += [index] * len(templates)
        was_training = self.training
        self.eval()  # the projector's BatchNorm: running statistics
        try:
            embeddings = self.encode_texts(prompts)  # one batch for all prompts
        finally:
            self.train(was_training)
        owner_t = torch.tensor(owner, device=embeddings.device)
        sums = embeddings.new_zeros(len(names), embeddings.shape[1]).index_add_(
            0, owner_t, embeddings
        )
        return F.normalize(sums, dim=-1)  # the mean's direction equals the sum's
