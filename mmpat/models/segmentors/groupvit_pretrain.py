"""Text-supervised GroupViT training on image-caption pairs, zero-shot for val/test.

The paper's recipe (Xu et al., CVPR 2022; docs/methods/groupvit.md): the image-text contrastive
loss between each image and its caption, plus the multi-label loss between each image and K
prompts made from nouns of its caption (``num_prompts``; 0 gives ITC only).

Inputs come from ``ImageCaptionDataset`` + ``PackImageCaption``: images [B, 3, H, W] and
``SegDataSample`` s whose metainfo holds ``caption`` (one str). Training uses hard Gumbel
assignments (the backbone in train mode); validation/test run the zero-shot protocol of
``GroupViTZeroShotHead`` (the model is a :class:`GroupViTZeroShot`: an
``OpenVocabEncoderDecoder`` with the GroupViT parts) with the vocabulary of the val dataset
(``EvalVocabularyHook``).

Our choices (config fields): ``prompt_templates='imagenet'`` (the 80 CLIP ImageNet templates),
nouns from the built-in heuristic :func:`mmpat.models.losses.extract_nouns` (``noun_phrases``:
with their leading adjectives, "red circle", instead of bare nouns), ``seed`` for the prompt
sampler. Anything beyond the paper's losses plugs in through one registered module, the
``extension`` field (:mod:`mmpat.models.segmentors.groupvit_pretrain_extension`); the grouping
losses and conv stem of the generated scenes live in ``projects/groupvit_scenes/``. The training
log shows ``groups_stage{i}`` and ``groups_final``, the groups holding image tokens per image (a
later stage also assigns the earlier stage's empty groups, so ``groups_stage2`` can stay high in
a grouping collapse).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from mmpat.models.losses.caption_nouns import sample_noun_phrases
from mmpat.models.text_encoders.templates import get_templates
from mmpat.models.utils import compose_assignments

from .groupvit_pretrain_extension import GroupViTPretrainExtension, PretrainStep
from .groupvit_zero_shot import GroupViTZeroShot


def groups_in_use(assign: Tensor) -> Tensor:
    """Mean number of groups that win at least one token, per image.

    Args:
        assign (Tensor): Assignment [B, S, N] of N tokens to S groups (hard or soft; each token
            counts for its highest-scoring group).

    Returns:
        Tensor: Scalar in [1, S].
    """
    winners = F.one_hot(assign.argmax(dim=-2), assign.shape[-2])  # [B, N, S]
    return winners.amax(dim=1).sum(dim=-1).float().mean()


def tokens_to_final_groups(assigns: list[Tensor]) -> Tensor:
    """Assignment of the first stage's input tokens to the final groups (no gradient).

    Args:
        assigns (list[Tensor]): Forward-pass assignments per stage, [B, S_out, N_in].

    Returns:
        Tensor: [B, S_final, N] (one-hot over the groups when the stages are hard).
    """
    return compose_assignments([assign.detach() for assign in assigns])


@MODELS.register_module()
class GroupViTPretrain(GroupViTZeroShot):
    """GroupViT trained from captions only; zero-shot segmentation at val/test time.

    Args:
        num_prompts (int): K noun prompts per image for the multi-label loss (0: ITC only).
        prompt_templates (str | Sequence[str]): Template set name or templates for prompts.
        noun_phrases (bool): Prompts from nouns with their leading adjectives ("red circle")
            instead of bare nouns (the paper's: False).
        loss (dict): Loss config (default ``GroupViTContrastiveLoss``: ITC + multi-label).
        extension (dict, optional): A registered :class:`GroupViTPretrainExtension` adding
            training terms (None, the paper's recipe: none). Its parameters are the model's
            ``extension.*``.
        seed (int): Seed of the prompt sampler (nouns and templates).
        **kwargs: :class:`GroupViTZeroShot` arguments (arch, class_names, bg_thresh, ...).
    """

    def __init__(
        self,
        *,
        num_prompts: int = 3,
        prompt_templates: str | Sequence[str] = 'imagenet',
        noun_phrases: bool = False,
        loss: dict | None = None,
        extension: dict | None = None,
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.num_prompts = int(num_prompts)
        self.prompt_templates = list(get_templates(prompt_templates))
        self.noun_phrases = bool(noun_phrases)
        self.loss_fn = MODELS.build(loss or dict(type='GroupViTContrastiveLoss'))
        self.extension = None
        if extension is not None:
            self.extension = MODELS.build(extension)
            if not isinstance(self.extension, GroupViTPretrainExtension):
                raise TypeError(
                    f'GroupViTPretrain extension {extension.get("type")!r} builds a '
                    f'{type(self.extension).__name__}, not a GroupViTPretrainExtension '
                    '(mmpat/models/segmentors/groupvit_pretrain_extension.py)'
                )
            self.extension.bind(self)
        self.rng = random.Random(seed)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # Checkpoints written before the extension point held the scenes' token projector at
        # the top level; it now belongs to the extension.
        old = prefix + 'token_projector.'
        for key in [k for k in state_dict if k.startswith(old)]:
            state_dict[prefix + 'extension.' + key[len(prefix) :]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @staticmethod
    def captions_of(data_samples) -> list[str]:
        """One caption per sample from ``metainfo['caption']``."""
        if not data_samples:
            raise ValueError('GroupViTPretrain needs data_samples with a "caption" metainfo')
        captions = []
        for index, sample in enumerate(data_samples):
            caption = sample.metainfo.get('caption')
            if not isinstance(caption, str) or not caption.strip():
                raise ValueError(
                    f'sample {index} has no caption (metainfo keys: {sorted(sample.metainfo)}); '
                    'use ImageCaptionDataset with PackImageCaption'
                )
            captions.append(caption)
        return captions

    def encode_captions(self, texts: Sequence[str]) -> Tensor:
        """Projected (unnormalised) text embeddings [T, D], with gradient."""
        tokens = self.text_encoder.tokenize(texts).to(self.logit_scale.device)
        return self.text_projector(self.text_encoder(tokens))

    def loss(self, inputs: Tensor, data_samples) -> dict[str, Tensor]:
        """Contrastive losses of a batch of image-caption pairs.

        Args:
            inputs (Tensor): Normalised images [B, 3, H, W].
            data_samples (list[SegDataSample]): With ``metainfo['caption']``.

        Returns:
            dict: ``loss_itc``, (K > 0) ``loss_multi_label``, the extension's terms, and logged
            values (``logit_scale``, ``groups_stage{i}``, ``groups_final``).
        """
        captions = self.captions_of(data_samples)
        if len(captions) < 2:
            raise ValueError(
                f'GroupViTPretrain got a batch of {len(captions)} image-caption pair; training '
                'needs at least 2 per process (contrastive negatives and the BatchNorm '
                'projectors): raise train_dataloader.batch_size'
            )
        feats = self.backbone(inputs)
        batch = len(captions)
        texts = list(captions)
        phrases = []  # (template, noun phrase) of each image's prompts
        for caption in captions:
            pairs = sample_noun_phrases(
                caption,
                self.num_prompts,
                self.prompt_templates,
                self.rng,
                with_adjectives=self.noun_phrases,
            )
            phrases.append(pairs)
            texts += [template.format(noun) for template, noun in pairs]
            texts += [caption] * (self.num_prompts - len(pairs))  # no nouns: the caption
        step = PretrainStep(captions, phrases, feats, image_emb=self.img_projector(feats['pooled']))
        extra_texts = []
        if self.extension is not None:
            extra_texts, step.extra = self.extension.extra_texts(self, step)
        # One text pass for the captions, the prompts and the extension's texts.
        text_emb = self.encode_captions(texts + list(extra_texts))
        step.caption_emb = text_emb[:batch]
        if self.num_prompts > 0:
            step.prompt_emb = text_emb[batch : len(texts)].reshape(batch, self.num_prompts, -1)
        step.extra_emb = text_emb[len(texts) :]
        losses = self.loss_fn(
            step.image_emb,
            step.caption_emb,
            self.logit_scale,
            step.prompt_emb,
            self.multi_label_logit_scale,
        )
        if self.extension is not None:
            losses.update(self.extension.losses(self, step))
        with torch.no_grad():
            losses['logit_scale'] = self.logit_scale.exp().detach()
            # Logged (not summed: no 'loss' in the name) so that a grouping collapse, every
            # token in one group, shows in the training log as groups_stage{i} falling to 1.
            for stage, assign in enumerate(feats['assigns'], start=1):
                losses[f'groups_stage{stage}'] = groups_in_use(assign)
            # A later stage also assigns the earlier stage's empty groups: the final groups
            # that hold image tokens are what the segmentation shows.
            losses['groups_final'] = groups_in_use(compose_assignments(feats['assigns']))
        return losses
