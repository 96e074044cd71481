"""Text-supervised GroupViT training on image-caption pairs, zero-shot for val/test.

The losses of GroupViT (Xu et al., CVPR 2022; docs/methods/groupvit.md) and ours.

Inputs come from ``ImageCaptionDataset`` + ``PackImageCaption``: images [B, 3, H, W] and
``SegDataSample`` s whose metainfo holds ``caption`` (one str). Training uses hard Gumbel
assignments (the backbone in train mode); validation/test run the zero-shot protocol of
``GroupViTZeroShotHead`` (the model is a :class:`GroupViTZeroShot`: an
``OpenVocabEncoderDecoder`` with the GroupViT parts) with the vocabulary of the val dataset
(``EvalVocabularyHook``).

Our choices (config fields): ``num_prompts`` K (the paper: 3 for GCC+YFCC, 0 for GCC+RedCaps),
``prompt_templates='imagenet'`` (the 80 CLIP ImageNet templates), nouns from the built-in
heuristic :func:`mmpat.models.losses.extract_nouns`, ``seed`` for the prompt sampler, and
``group_loss`` (default None: the paper's losses only), an optional regulariser on the grouping
assignments such as :class:`mmpat.models.losses.GroupUsageLoss` against the one-group collapse
of small-data training, and ``group_text_loss`` (default None), an optional loss that names the
final groups themselves from the noun prompts (:class:`mmpat.models.losses.GroupTextMILLoss`),
and ``token_text_loss`` (default None), the same multiple-instance loss on the image tokens
entering the first grouping block (a prompt against each image's best token), through a
``token_projector`` (LayerNorm + Linear) used only by that loss. Grouping averages the tokens
of a segment, so a shape cue carried by a few tokens is diluted before any loss sees it; with
this term the tokens themselves must carry what the caption names (on the scenes, with the
conv stem, it is what makes GroupViT-tiny learn the shapes: see the README), and
``noun_swap_loss`` (default None): each noun prompt against copies with its head noun swapped
for other nouns of the batch, on the best projected token
(:class:`mmpat.models.losses.NounSwapMILLoss`), and ``group_noun_swap_loss`` (default None),
the same noun-swap loss on the best projected final group (the groups are what the zero-shot
protocol names), and ``group_segment_loss`` (default None): each final group's distribution
over the batch's prompts made to follow that of its own segment's projected tokens
(:class:`mmpat.models.losses.GroupSegmentConsistencyLoss`), so that a group holding background
cannot name the image, and ``group_purity_loss`` (default None): the grouping made to keep apart
tokens that name different things (:class:`mmpat.models.losses.GroupPurityLoss`). The training
log shows ``groups_final``, the final groups holding image tokens per image (a later stage also
assigns the earlier stage's empty groups, so ``groups_stage2`` can stay high in a collapse).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from mmpat.models.losses.caption_nouns import (
    extract_nouns,
    head_noun,
    noun_swaps,
    sample_noun_phrases,
)
from mmpat.models.losses.group_segment_consistency import mean_token_distributions
from mmpat.models.text_encoders.templates import get_templates
from mmpat.models.utils import compose_assignments

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
        loss (dict): Loss config (default ``GroupViTContrastiveLoss``).
        group_loss (dict, optional): Loss on the soft assignments of the grouping stages
            (e.g. ``dict(type='GroupUsageLoss', loss_weight=0.5)``); None (as the paper) for
            none.
        group_text_loss (dict, optional): Loss between the K noun prompts and the projected
            final groups (e.g. ``dict(type='GroupTextMILLoss')``, temperature
            ``multi_label_logit_scale``); needs ``num_prompts > 0``. None (as the paper) for
            none.
        token_text_loss (dict, optional): The same kind of loss between the K noun prompts and
            the projected image tokens before the first grouping block (e.g.
            ``dict(type='GroupTextMILLoss', loss_name='loss_token_text')``); needs
            ``num_prompts > 0``. None (as the paper) for none.
        noun_swap_loss (dict, optional): ``dict(type='NounSwapMILLoss', num_swaps=M)``: the
            noun prompts against noun-swapped copies on the best projected token (shares
            ``token_projector``); needs ``num_prompts > 0``. None (as the paper) for none.
        group_noun_swap_loss (dict, optional): The same kind of loss on the projected final
            groups holding a token (e.g. ``dict(type='NounSwapMILLoss', num_swaps=M,
            loss_name='loss_group_noun_swap')``); shares the swapped prompts, so M must equal
            ``noun_swap_loss``'s when both are set. None (as the paper) for none.
        group_segment_loss (dict, optional): ``dict(type='GroupSegmentConsistencyLoss')``:
            each final group follows the prompt distribution of its segment's projected tokens
            (the teacher: needs ``token_text_loss``, which trains the token projector). None
            (as the paper) for none.
        group_purity_loss (dict, optional): ``dict(type='GroupPurityLoss')``: the final groups
            hold tokens whose projected embeddings name alike (gradient to the grouping only;
            needs ``token_text_loss``). None (as the paper) for none.
        group_text_select (str): How ``group_text_loss`` picks each prompt's group in its own
            image: ``'embedding'`` (the group embedding's best match) or ``'segment'`` (the
            group whose pixels name the prompt most, by ``group_segment_loss``'s teacher; a
            group that names the image from anywhere is then not picked).
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
        group_loss: dict | None = None,
        group_text_loss: dict | None = None,
        token_text_loss: dict | None = None,
        noun_swap_loss: dict | None = None,
        group_noun_swap_loss: dict | None = None,
        group_segment_loss: dict | None = None,
        group_purity_loss: dict | None = None,
        group_text_select: str = 'embedding',
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.num_prompts = int(num_prompts)
        self.prompt_templates = list(get_templates(prompt_templates))
        self.noun_phrases = bool(noun_phrases)
        self.loss_fn = MODELS.build(loss or dict(type='GroupViTContrastiveLoss'))
        self.group_loss_fn = MODELS.build(group_loss) if group_loss is not None else None
        for name, cfg in (
            ('group_text_loss', group_text_loss),
            ('token_text_loss', token_text_loss),
            ('noun_swap_loss', noun_swap_loss),
            ('group_noun_swap_loss', group_noun_swap_loss),
        ):
            if cfg is not None and self.num_prompts <= 0:
                raise ValueError(
                    f'{name} matches the noun prompts: set num_prompts > 0 (got {self.num_prompts})'
                )
        self.group_text_loss_fn = (
            MODELS.build(group_text_loss) if group_text_loss is not None else None
        )
        self.token_text_loss_fn = None
        if token_text_loss is not None:
            self.token_text_loss_fn = MODELS.build(token_text_loss)
        self.noun_swap_loss_fn = None
        if noun_swap_loss is not None:
            self.noun_swap_loss_fn = MODELS.build(noun_swap_loss)
        self.group_noun_swap_loss_fn = None
        if group_noun_swap_loss is not None:
            self.group_noun_swap_loss_fn = MODELS.build(group_noun_swap_loss)
        swap_counts = {
            fn.num_swaps
            for fn in (self.noun_swap_loss_fn, self.group_noun_swap_loss_fn)
            if fn is not None
        }
        if len(swap_counts) > 1:
            raise ValueError(
                'noun_swap_loss and group_noun_swap_loss share the swapped prompts: give them '
                f'the same num_swaps (got {sorted(swap_counts)})'
            )
        self.num_swaps = swap_counts.pop() if swap_counts else 0
        for name, cfg in (
            ('group_segment_loss', group_segment_loss),
            ('group_purity_loss', group_purity_loss),
        ):
            if cfg is not None and token_text_loss is None:
                raise ValueError(
                    f'{name} learns from what the projected tokens name: set token_text_loss '
                    '(it trains the token projector)'
                )
            setattr(self, f'{name}_fn', MODELS.build(cfg) if cfg is not None else None)
        if token_text_loss is not None or noun_swap_loss is not None:
            width = self.backbone.embed_dim
            out_dim = self.text_projector.linear_out.out_features
            self.token_projector = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, out_dim))
        if group_text_select not in ('embedding', 'segment'):
            raise ValueError(
                f"group_text_select must be 'embedding' or 'segment', got {group_text_select!r}"
            )
        if group_text_select == 'segment' and (
            group_text_loss is None or group_segment_loss is None
        ):
            raise ValueError(
                "group_text_select='segment' needs group_text_loss and group_segment_loss "
                "(whose teacher says what each group's pixels name)"
            )
        self.group_text_select = group_text_select
        self._rng = random.Random(seed)

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

    def noun_swap_texts(
        self, captions: Sequence[str], phrases: Sequence[Sequence[tuple[str, str]]]
    ) -> tuple[list[str], Tensor]:
        """Noun-swapped prompts: each prompt's template with its head noun replaced.

        The candidate nouns are the head nouns of every caption of the batch; those of the
        prompt's own caption are excluded (they may be true of the image).

        Args:
            captions (Sequence[str]): The B captions.
            phrases (Sequence[Sequence[tuple[str, str]]]): Per caption, its (template, noun
                phrase) prompts (at most K).

        Returns:
            tuple: the swapped texts, and their flat slot index [T] in a [B, K, M] layout.
        """
        num_swaps = self.num_swaps
        nouns = [
            [head_noun(n) for n in extract_nouns(c, with_adjectives=self.noun_phrases)]
            for c in captions
        ]
        vocabulary = sorted({noun for own in nouns for noun in own})
        texts, slots = [], []
        for image, pairs in enumerate(phrases):
            for k, (template, phrase) in enumerate(pairs):
                swapped = noun_swaps(phrase, vocabulary, nouns[image], num_swaps, self._rng)
                base = (image * self.num_prompts + k) * num_swaps
                texts += [template.format(text) for text in swapped]
                slots += range(base, base + len(swapped))
        return texts, torch.tensor(slots, dtype=torch.long, device=self.logit_scale.device)

    def token_group_logits(self, feats: dict) -> Tensor:
        """Class log-probabilities of the final groups as named by their own tokens.

        Each group gets the mean of its first-stage tokens' class distributions (through
        ``token_projector``, at ``multi_label_logit_scale``, as the token losses see them): the
        teacher of ``GroupSegmentConsistencyLoss(teacher='token_distributions')``. Passed to
        :meth:`decode_groups`, it shows what the protocol would give if the group tokens named
        what their pixels name (``tools/analysis/groupvit_grouping_report.py``).

        Args:
            feats (dict): Backbone outputs (eval mode: hard assignments).

        Returns:
            Tensor: [B, S, C] log-probabilities over the vocabulary.

        Raises:
            ValueError: If the model has no ``token_projector`` (no token-level loss).
        """
        if not hasattr(self, 'token_projector'):
            raise ValueError(
                'token_group_logits needs the token_projector, which exists only with '
                'token_text_loss (or noun_swap_loss) in the config'
            )
        scale = self.multi_label_logit_scale.exp().clamp(max=100)
        token_emb = self.token_projector(feats['stage_tokens'][0])
        token_groups = tokens_to_final_groups(feats['assigns'])
        named = mean_token_distributions(token_emb, token_groups, self.class_embeddings, scale)
        return named.clamp_min(1e-12).log()

    def loss(self, inputs: Tensor, data_samples) -> dict[str, Tensor]:
        """Contrastive losses of a batch of image-caption pairs.

        Args:
            inputs (Tensor): Normalised images [B, 3, H, W].
            data_samples (list[SegDataSample]): With ``metainfo['caption']``.

        Returns:
            dict: ``loss_itc``, (K > 0) ``loss_multi_label`` and (with ``group_loss``) its
            term, plus logged values (``logit_scale``, ``groups_stage{i}``).
        """
        captions = self.captions_of(data_samples)
        if len(captions) < 2:
            raise ValueError(
                f'GroupViTPretrain got a batch of {len(captions)} image-caption pair; training '
                'needs at least 2 per process (contrastive negatives and the BatchNorm '
                'projectors): raise train_dataloader.batch_size'
            )
        feats = self.backbone(inputs)
        image_emb = self.img_projector(feats['pooled'])
        batch = len(captions)
        texts = list(captions)
        phrases = []  # (template, noun phrase) of each image's prompts
        for caption in captions:
            pairs = sample_noun_phrases(
                caption,
                self.num_prompts,
                self.prompt_templates,
                self._rng,
                with_adjectives=self.noun_phrases,
            )
            phrases.append(pairs)
            texts += [template.format(noun) for template, noun in pairs]
            texts += [caption] * (self.num_prompts - len(pairs))  # no nouns: the caption
        swaps = self.noun_swap_texts(captions, phrases) if self.num_swaps else None
        text_emb = self.encode_captions(texts + (swaps[0] if swaps else []))
        prompt_emb = None
        if self.num_prompts > 0:
            prompt_emb = text_emb[batch : len(texts)].reshape(batch, self.num_prompts, -1)
        losses = self.loss_fn(
            image_emb,
            text_emb[:batch],
            self.logit_scale,
            prompt_emb,
            self.multi_label_logit_scale,
        )
        if self.group_loss_fn is not None:
            losses.update(self.group_loss_fn(feats['soft_assigns']))
        group_losses = (
            self.group_text_loss_fn,
            self.group_noun_swap_loss_fn,
            self.group_segment_loss_fn,
        )
        if any(fn is not None for fn in group_losses):
            group_emb = self.img_projector(feats['tokens'])  # [B, S, D]
            token_to_group = tokens_to_final_groups(feats['assigns'])  # [B, S, N], once
            group_mask = token_to_group.sum(dim=-1) > 0.5  # groups holding a token
        token_emb = None  # [B, N, D], projected once for every token-level loss
        if hasattr(self, 'token_projector'):
            token_emb = self.token_projector(feats['stage_tokens'][0])
        named = None  # what each group's tokens name, when the prompt choice needs it too
        if self.group_text_loss_fn is not None:
            selection = None
            if self.group_text_select == 'segment':
                named = self.group_segment_loss_fn.segment_distributions(
                    token_emb,
                    token_to_group,
                    prompt_emb.flatten(0, 1),
                    self.multi_label_logit_scale,
                )  # [B, S, B*K]
                own = torch.arange(batch, device=named.device)
                selection = named.view(batch, -1, batch, self.num_prompts)[own, :, own]
            losses.update(
                self.group_text_loss_fn(
                    group_emb,
                    prompt_emb,
                    self.multi_label_logit_scale,
                    group_mask=group_mask,
                    selection=selection,
                )
            )
        if self.token_text_loss_fn is not None:
            losses.update(
                self.token_text_loss_fn(token_emb, prompt_emb, self.multi_label_logit_scale)
            )
        if self.group_segment_loss_fn is not None:
            losses.update(
                self.group_segment_loss_fn(
                    group_emb,
                    token_emb,
                    token_to_group,
                    prompt_emb.flatten(0, 1),
                    self.multi_label_logit_scale,
                    target=named,
                )
            )
        if self.group_purity_loss_fn is not None:
            losses.update(
                self.group_purity_loss_fn(
                    compose_assignments(feats['soft_assigns']),
                    token_emb.detach(),
                    prompt_emb.detach().flatten(0, 1),
                    self.multi_label_logit_scale,
                )
            )
        if swaps is not None:
            _, slots = swaps
            num_slots = batch * self.num_prompts * self.num_swaps
            swap_emb = text_emb.new_zeros(num_slots, text_emb.shape[1])
            swap_emb = swap_emb.index_copy(0, slots, text_emb[len(texts) :])
            mask = torch.zeros(num_slots, dtype=torch.bool, device=text_emb.device)
            mask[slots] = True
            swap_args = (
                prompt_emb.flatten(0, 1),
                swap_emb.view(batch * self.num_prompts, -1, text_emb.shape[1]),
                mask.view(batch * self.num_prompts, -1),
                torch.arange(batch, device=text_emb.device).repeat_interleave(self.num_prompts),
                self.multi_label_logit_scale,
            )
            if self.noun_swap_loss_fn is not None:
                losses.update(self.noun_swap_loss_fn(token_emb, *swap_args))
            if self.group_noun_swap_loss_fn is not None:
                losses.update(
                    self.group_noun_swap_loss_fn(group_emb, *swap_args, instance_mask=group_mask)
                )
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
