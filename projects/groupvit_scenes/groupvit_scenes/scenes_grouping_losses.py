"""``ScenesGroupingLosses``: the grouping losses that teach GroupViT-tiny the generated scenes.

The ``GroupViTPretrain`` extension (``mmpat/models/segmentors/groupvit_pretrain_extension.py``)
of this project. Each term is a config field, None (off) by default; the recipes in
``../configs/`` turn them on and the lab log ``docs/experiments/groupvit_scenes.md`` measures
each. With 30k captions and a CPU budget the paper's two losses leave the grouping collapsed and
the shapes unnamed; these terms act on the grouping itself and on the image tokens:

- ``group_loss`` (:class:`GroupUsageLoss`): the soft assignments use many groups;
- ``group_text_loss`` (:class:`GroupTextMILLoss`): the final groups themselves named by the noun
  prompts (a prompt against the best group of its own image);
- ``token_text_loss`` (:class:`GroupTextMILLoss`, ``loss_name='loss_token_text'``): the same on
  the image tokens entering the first grouping block, through a ``token_projector`` (LayerNorm +
  Linear, created by :meth:`bind`); grouping averages the tokens of a segment, so a shape cue
  carried by a few tokens is diluted before any loss sees it;
- ``noun_swap_loss`` / ``group_noun_swap_loss`` (:class:`NounSwapMILLoss`): each noun prompt
  against copies with its head noun swapped for other nouns of the batch, on the best token /
  the best final group;
- ``group_segment_loss`` (:class:`GroupSegmentConsistencyLoss`): each final group follows the
  prompt distribution of its own segment's projected tokens;
- ``group_purity_loss`` (:class:`GroupPurityLoss`): the grouping keeps apart tokens that name
  different things.
"""

from __future__ import annotations

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from mmpat.models.losses.caption_nouns import extract_nouns
from mmpat.models.segmentors.groupvit_pretrain import tokens_to_final_groups
from mmpat.models.segmentors.groupvit_pretrain_extension import (
    GroupViTPretrainExtension,
    PretrainStep,
)
from mmpat.models.utils import compose_assignments

from .losses.group_segment_consistency import mean_token_distributions
from .noun_swaps import head_noun, noun_swaps

# Terms that compare the noun prompts with the image: they need K > 0 prompts.
_PROMPT_TERMS = ('group_text_loss', 'token_text_loss', 'noun_swap_loss', 'group_noun_swap_loss')
# Terms that learn from what the projected tokens name: they need token_text_loss.
_TOKEN_TEACHER_TERMS = ('group_segment_loss', 'group_purity_loss')


def _build(cfg: dict | None) -> nn.Module | None:
    return MODELS.build(cfg) if cfg is not None else None


@MODELS.register_module()
class ScenesGroupingLosses(GroupViTPretrainExtension):
    """The scenes' extra GroupViT training terms (see the module docstring).

    Args:
        group_loss (dict, optional): Loss on the soft assignments of the grouping stages
            (e.g. ``dict(type='GroupUsageLoss', loss_weight=0.5)``).
        group_text_loss (dict, optional): Loss between the K noun prompts and the projected
            final groups (e.g. ``dict(type='GroupTextMILLoss')``, temperature
            ``multi_label_logit_scale``).
        token_text_loss (dict, optional): The same kind of loss between the K noun prompts and
            the projected image tokens before the first grouping block.
        noun_swap_loss (dict, optional): ``dict(type='NounSwapMILLoss', num_swaps=M)``: the
            noun prompts against noun-swapped copies on the best projected token (shares
            ``token_projector``).
        group_noun_swap_loss (dict, optional): The same kind of loss on the projected final
            groups holding a token; shares the swapped prompts, so M must equal
            ``noun_swap_loss``'s when both are set.
        group_segment_loss (dict, optional): ``dict(type='GroupSegmentConsistencyLoss')``
            (the teacher: needs ``token_text_loss``, which trains the token projector).
        group_purity_loss (dict, optional): ``dict(type='GroupPurityLoss')`` (gradient to the
            grouping only; needs ``token_text_loss``).
        group_text_select (str): How ``group_text_loss`` picks each prompt's group in its own
            image: ``'embedding'`` (the group embedding's best match) or ``'segment'`` (the
            group whose pixels name the prompt most, by ``group_segment_loss``'s teacher).
    """

    def __init__(
        self,
        *,
        group_loss: dict | None = None,
        group_text_loss: dict | None = None,
        token_text_loss: dict | None = None,
        noun_swap_loss: dict | None = None,
        group_noun_swap_loss: dict | None = None,
        group_segment_loss: dict | None = None,
        group_purity_loss: dict | None = None,
        group_text_select: str = 'embedding',
    ) -> None:
        super().__init__()
        fields = dict(
            group_loss=group_loss,
            group_text_loss=group_text_loss,
            token_text_loss=token_text_loss,
            noun_swap_loss=noun_swap_loss,
            group_noun_swap_loss=group_noun_swap_loss,
            group_segment_loss=group_segment_loss,
            group_purity_loss=group_purity_loss,
        )
        self.prompt_terms = [name for name in _PROMPT_TERMS if fields[name] is not None]
        for name in _TOKEN_TEACHER_TERMS:
            if fields[name] is not None and token_text_loss is None:
                raise ValueError(
                    f'{name} learns from what the projected tokens name: set token_text_loss '
                    '(it trains the token projector)'
                )
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
        for name, cfg in fields.items():
            setattr(self, f'{name}_fn', _build(cfg))
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
        self.token_projector: nn.Module | None = None

    # ------------------------------------------------------------------ hooks
    def bind(self, model) -> None:
        """Check the prompt count and create the token projector (backbone width -> the
        projectors' output width) when a token-level term is on."""
        if self.prompt_terms and model.num_prompts <= 0:
            raise ValueError(
                f'{self.prompt_terms[0]} matches the noun prompts: set num_prompts > 0 '
                f'(got {model.num_prompts})'
            )
        if self.token_text_loss_fn is not None or self.noun_swap_loss_fn is not None:
            width = model.backbone.embed_dim
            out_dim = model.text_projector.linear_out.out_features
            self.token_projector = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, out_dim))

    def extra_texts(self, model, step: PretrainStep) -> tuple[list[str], dict]:
        """The noun-swapped prompts (when a noun-swap term is on) and their slots."""
        if not self.num_swaps:
            return [], {}
        texts, slots = self.noun_swap_texts(model, step.captions, step.phrases)
        return texts, {'swap_slots': slots}

    def noun_swap_texts(self, model, captions, phrases) -> tuple[list[str], Tensor]:
        """Noun-swapped prompts: each prompt's template with its head noun replaced.

        The candidate nouns are the head nouns of every caption of the batch; those of the
        prompt's own caption are excluded (they may be true of the image).

        Args:
            model (GroupViTPretrain): Gives ``num_prompts``, ``noun_phrases`` and ``rng``.
            captions (Sequence[str]): The B captions.
            phrases (Sequence[Sequence[tuple[str, str]]]): Per caption, its (template, noun
                phrase) prompts (at most K).

        Returns:
            tuple: the swapped texts, and their flat slot index [T] in a [B, K, M] layout.
        """
        num_swaps = self.num_swaps
        nouns = [
            [head_noun(n) for n in extract_nouns(c, with_adjectives=model.noun_phrases)]
            for c in captions
        ]
        vocabulary = sorted({noun for own in nouns for noun in own})
        texts, slots = [], []
        for image, pairs in enumerate(phrases):
            for k, (template, phrase) in enumerate(pairs):
                swapped = noun_swaps(phrase, vocabulary, nouns[image], num_swaps, model.rng)
                base = (image * model.num_prompts + k) * num_swaps
                texts += [template.format(text) for text in swapped]
                slots += range(base, base + len(swapped))
        return texts, torch.tensor(slots, dtype=torch.long, device=model.logit_scale.device)

    def losses(self, model, step: PretrainStep) -> dict[str, Tensor]:
        """Every configured term, in a fixed order (usage, group text, token text, segment,
        purity, noun swaps on tokens, noun swaps on groups)."""
        feats, prompt_emb = step.feats, step.prompt_emb
        scale = model.multi_label_logit_scale
        batch = len(step.captions)
        losses: dict[str, Tensor] = {}
        if self.group_loss_fn is not None:
            losses.update(self.group_loss_fn(feats['soft_assigns']))
        group_terms = (
            self.group_text_loss_fn,
            self.group_noun_swap_loss_fn,
            self.group_segment_loss_fn,
        )
        group_emb = group_mask = token_to_group = None
        if any(fn is not None for fn in group_terms):
            group_emb = model.img_projector(feats['tokens'])  # [B, S, D]
            token_to_group = tokens_to_final_groups(feats['assigns'])  # [B, S, N], once
            group_mask = token_to_group.sum(dim=-1) > 0.5  # groups holding a token
        token_emb = None  # [B, N, D], projected once for every token-level term
        if self.token_projector is not None:
            token_emb = self.token_projector(feats['stage_tokens'][0])
        named = None  # what each group's tokens name, when the prompt choice needs it too
        if self.group_text_loss_fn is not None:
            selection = None
            if self.group_text_select == 'segment':
                named = self.group_segment_loss_fn.segment_distributions(
                    token_emb, token_to_group, prompt_emb.flatten(0, 1), scale
                )  # [B, S, B*K]
                own = torch.arange(batch, device=named.device)
                selection = named.view(batch, -1, batch, model.num_prompts)[own, :, own]
            losses.update(
                self.group_text_loss_fn(
                    group_emb, prompt_emb, scale, group_mask=group_mask, selection=selection
                )
            )
        if self.token_text_loss_fn is not None:
            losses.update(self.token_text_loss_fn(token_emb, prompt_emb, scale))
        if self.group_segment_loss_fn is not None:
            losses.update(
                self.group_segment_loss_fn(
                    group_emb,
                    token_emb,
                    token_to_group,
                    prompt_emb.flatten(0, 1),
                    scale,
                    target=named,
                )
            )
        if self.group_purity_loss_fn is not None:
            losses.update(
                self.group_purity_loss_fn(
                    compose_assignments(feats['soft_assigns']),
                    token_emb.detach(),
                    prompt_emb.detach().flatten(0, 1),
                    scale,
                )
            )
        if self.num_swaps:
            losses.update(self._noun_swap_losses(model, step, token_emb, group_emb, group_mask))
        return losses

    def _noun_swap_losses(
        self, model, step: PretrainStep, token_emb, group_emb, group_mask
    ) -> dict[str, Tensor]:
        """The noun-swap terms on the best token and on the best final group."""
        prompt_emb, extra_emb = step.prompt_emb, step.extra_emb
        batch, width = len(step.captions), prompt_emb.shape[-1]
        slots = step.extra['swap_slots']
        num_slots = batch * model.num_prompts * self.num_swaps
        swap_emb = extra_emb.new_zeros(num_slots, width).index_copy(0, slots, extra_emb)
        mask = torch.zeros(num_slots, dtype=torch.bool, device=extra_emb.device)
        mask[slots] = True
        swap_args = (
            prompt_emb.flatten(0, 1),
            swap_emb.view(batch * model.num_prompts, -1, width),
            mask.view(batch * model.num_prompts, -1),
            torch.arange(batch, device=extra_emb.device).repeat_interleave(model.num_prompts),
            model.multi_label_logit_scale,
        )
        losses = {}
        if self.noun_swap_loss_fn is not None:
            losses.update(self.noun_swap_loss_fn(token_emb, *swap_args))
        if self.group_noun_swap_loss_fn is not None:
            losses.update(
                self.group_noun_swap_loss_fn(group_emb, *swap_args, instance_mask=group_mask)
            )
        return losses

    # ------------------------------------------------------------------ analysis
    def token_group_logits(self, model, feats: dict) -> Tensor:
        """Class log-probabilities of the final groups as named by their own tokens.

        Each group gets the mean of its first-stage tokens' class distributions (through
        ``token_projector``, at ``multi_label_logit_scale``, as the token losses see them): the
        teacher of ``GroupSegmentConsistencyLoss(teacher='token_distributions')``. Passed to
        ``decode_groups``, it shows what the protocol would give if the group tokens named
        what their pixels name (``tools/analysis/groupvit_grouping_report.py``).

        Args:
            model (GroupViTPretrain): The model (its vocabulary's class embeddings).
            feats (dict): Backbone outputs (eval mode: hard assignments).

        Returns:
            Tensor: [B, S, C] log-probabilities over the vocabulary.

        Raises:
            ValueError: If there is no ``token_projector`` (no token-level term).
        """
        if self.token_projector is None:
            raise ValueError(
                'token_group_logits needs the token_projector, which exists only with '
                'token_text_loss (or noun_swap_loss) in the config'
            )
        scale = model.multi_label_logit_scale.exp().clamp(max=100)
        token_emb = self.token_projector(feats['stage_tokens'][0])
        token_groups = tokens_to_final_groups(feats['assigns'])
        named = mean_token_distributions(token_emb, token_groups, model.class_embeddings, scale)
        return named.clamp_min(1e-12).log()
