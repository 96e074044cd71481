"""Group purity loss: a final group should hold tokens that name the same thing (our addition).

On the generated scenes, with the grounded recipe (token losses on, groups named by
``GroupSegmentConsistencyLoss`` alone), the image tokens learn to name their objects but in
some seeds the grouping collapses to about two final groups per image (seed 2: 2.3), each
mixing objects and background, so no group can be named right. Nothing asks the grouping to
follow what the tokens say: the caption losses see the groups only through their embeddings,
and ``GroupUsageLoss`` asks for many groups, not for meaningful ones.

This loss asks for it. With the soft assignment ``A`` [B, S, N] of the first-stage tokens to
the final groups (product of the stages, gradient flows here only) and each token's
distribution over the batch's prompts ``q_n = softmax(s <E_n, T>)`` (fixed: the tokens are not
pulled toward their group), group g of an image holds the share ``w_g = sum_n A_gn / N`` of its
tokens and names ``m_g = sum_n A_gn q_n / sum_n A_gn`` (the teacher of the consistency loss).
The term is the within-group Jensen-Shannon divergence

``loss = loss_weight * mean_b [ sum_g w_g H(m_g) - mean_n H(q_n) ] / log P``,

zero when every group holds tokens that name alike and largest when tokens that name different
things share a group; it is the information about what the tokens name that the grouping
loses. Splitting tokens that name alike (e.g. background) neither costs nor gains, so it does
not ask for more groups than there are things to tell apart.

A field of the scenes extension (``ScenesGroupingLosses(group_purity_loss=dict(
type='GroupPurityLoss'))``), with ``token_text_loss`` (which trains the token projector).
"""

from __future__ import annotations

import math

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from .group_segment_consistency import token_distributions


def _entropy(p: Tensor) -> Tensor:
    return -(p * p.clamp_min(1e-12).log()).sum(dim=-1)


@MODELS.register_module()
class GroupPurityLoss(nn.Module):
    """Within-group Jensen-Shannon divergence of the tokens' prompt distributions.

    Args:
        loss_weight (float): Weight of the term.
        max_logit_scale (float): Clamp of ``exp(logit_scale)``.
        loss_name (str): Key of the returned loss.
    """

    def __init__(
        self,
        *,
        loss_weight: float = 1.0,
        max_logit_scale: float = 100.0,
        loss_name: str = 'loss_group_purity',
    ) -> None:
        super().__init__()
        if loss_weight < 0:
            raise ValueError(f'GroupPurityLoss loss_weight must be >= 0, got {loss_weight}')
        self.loss_weight = float(loss_weight)
        self.max_logit_scale = float(max_logit_scale)
        self.loss_name = loss_name

    def forward(
        self, token_groups: Tensor, token_emb: Tensor, text_emb: Tensor, logit_scale: Tensor
    ) -> dict:
        """Compute the term.

        Args:
            token_groups (Tensor): Soft assignment of the N first-stage tokens to the S final
                groups [B, S, N] (each column sums to 1 over S), with gradient.
            token_emb (Tensor): Projected first-stage image tokens [B, N, D] (no gradient is
                taken through them).
            text_emb (Tensor): Prompt embeddings [P, D], P >= 2 (no gradient).
            logit_scale (Tensor): Log temperature (scalar).

        Returns:
            dict: ``{loss_name: scalar}``.
        """
        if token_groups.dim() != 3 or token_emb.dim() != 3:
            raise ValueError(
                f'token_groups must be [B, S, N] and token_emb [B, N, D], got '
                f'{tuple(token_groups.shape)} and {tuple(token_emb.shape)}'
            )
        batch, _, num_tokens = token_groups.shape
        if token_emb.shape[:2] != (batch, num_tokens):
            raise ValueError(
                f'token_groups {tuple(token_groups.shape)} and token_emb '
                f'{tuple(token_emb.shape)} need the same batch and token counts'
            )
        if text_emb.dim() != 2 or text_emb.shape[0] < 2 or text_emb.shape[1] != token_emb.shape[2]:
            raise ValueError(
                f'text_emb must be [P >= 2, {token_emb.shape[2]}], got {tuple(text_emb.shape)}'
            )
        scale = logit_scale.detach().exp().clamp(max=self.max_logit_scale)
        with torch.no_grad():
            per_token = token_distributions(token_emb, text_emb, scale)  # q_n [B, N, P]
        weights = token_groups.float()
        size = weights.sum(dim=-1)  # [B, S]
        named = weights @ per_token / size.clamp_min(1e-6)[..., None]  # m_g [B, S, P]
        mixed = (size / num_tokens * _entropy(named)).sum(dim=-1)  # [B]
        divergence = (mixed - _entropy(per_token).mean(dim=-1)).mean()
        loss = divergence / math.log(text_emb.shape[0])
        return {self.loss_name: self.loss_weight * loss}
