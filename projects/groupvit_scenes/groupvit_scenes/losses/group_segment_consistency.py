"""Group-segment consistency loss (our addition, not in the GroupViT paper).

The zero-shot protocol names each final group by its token alone. A group token sees the whole
image (the pre-assignment attention, the residual of its own query, the blocks over the groups
after grouping), so the caption losses can be met by one "summary" group that names the image
while it holds background pixels: on the scenes, with the text tower frozen and the token losses
on, the protocol's most confident group was such a group in every image of some seeds (kept
group an object in 0% of the images), although the image tokens themselves are grounded (the
token that best matches the dominant object's name lies on the object in 99% of the images,
``token_text_loss``).

This loss makes each group say what its own pixels say. With the hard assignment ``M``
[B, S, N] of the N first-stage tokens to the S final groups (the product of the stages'
assignments), the tokens' projected embeddings ``E`` [B, N, D] (``token_projector``) and the
batch's prompt embeddings ``T`` [P, D] (all L2-normalised), the segment of group g has the
embedding ``normalise(sum_n M_gn E_n)``; its distribution over the prompts ``q_g =
softmax(s <segment_g, T>)`` is the target (no gradient) of the group's own distribution ``p_g =
softmax(s <G_g, T>)``:

``loss = loss_weight * mean over groups holding a token of KL(q_g || p_g)``.

With ``teacher='token_distributions'`` the target is instead the mean of the tokens' own
distributions, ``q_g = mean_n in g softmax(s <E_n, T>)``: averaging embeddings first turns a
small pull toward the image's name shared by many background tokens into a peaked target (seen on
the scenes: a large background group kept by the protocol); averaging distributions keeps it flat.

A background segment matches no prompt (flat ``q``), so a group holding background must be flat
whatever it sees elsewhere; an object's segment is peaked on its name, and so must its group be.

A field of the scenes extension (``ScenesGroupingLosses(group_segment_loss=dict(
type='GroupSegmentConsistencyLoss'))``) (with ``token_text_loss``, which trains the
token projector).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn


def token_distributions(token_emb: Tensor, text_emb: Tensor, scale: Tensor | float) -> Tensor:
    """What each token names: its distribution over the texts.

    Args:
        token_emb (Tensor): Projected image tokens [B, N, D].
        text_emb (Tensor): Text embeddings [P, D].
        scale (Tensor | float): Logit scale (not its log).

    Returns:
        Tensor: [B, N, P].
    """
    tokens = F.normalize(token_emb, dim=-1)
    return (scale * tokens @ F.normalize(text_emb, dim=-1).t()).softmax(dim=-1)


def mean_token_distributions(
    token_emb: Tensor, token_groups: Tensor, text_emb: Tensor, scale: Tensor | float
) -> Tensor:
    """What each group's tokens name: the mean of their distributions over the texts.

    Args:
        token_emb (Tensor): Projected first-stage image tokens [B, N, D].
        token_groups (Tensor): Assignment of the N tokens to the S final groups [B, S, N].
        text_emb (Tensor): Text embeddings [P, D].
        scale (Tensor | float): Logit scale (not its log).

    Returns:
        Tensor: [B, S, P] (rows of groups holding no token are zero).
    """
    weights = token_groups.float()
    per_token = token_distributions(token_emb, text_emb, scale)  # [B, N, P]
    return weights @ per_token / weights.sum(dim=-1).clamp_min(1e-6)[..., None]


@MODELS.register_module()
class GroupSegmentConsistencyLoss(nn.Module):
    """KL from the prompt distribution of a group's segment tokens to the group's own.

    Args:
        loss_weight (float): Weight of the term.
        max_logit_scale (float): Clamp of ``exp(logit_scale)``.
        teacher (str): ``'segment_mean'`` (the distribution of the segment's mean token) or
            ``'token_distributions'`` (the mean of its tokens' distributions).
        loss_name (str): Key of the returned loss.
    """

    def __init__(
        self,
        *,
        loss_weight: float = 1.0,
        max_logit_scale: float = 100.0,
        teacher: str = 'segment_mean',
        loss_name: str = 'loss_group_segment',
    ) -> None:
        super().__init__()
        if teacher not in ('segment_mean', 'token_distributions'):
            raise ValueError(
                f"GroupSegmentConsistencyLoss teacher must be 'segment_mean' or "
                f"'token_distributions', got {teacher!r}"
            )
        self.teacher = teacher
        if loss_weight < 0:
            raise ValueError(
                f'GroupSegmentConsistencyLoss loss_weight must be >= 0, got {loss_weight}'
            )
        self.loss_weight = float(loss_weight)
        self.max_logit_scale = float(max_logit_scale)
        self.loss_name = loss_name

    @torch.no_grad()
    def segment_distributions(
        self, token_emb: Tensor, token_groups: Tensor, text_emb: Tensor, logit_scale: Tensor
    ) -> Tensor:
        """The teacher: what each group's pixels name, as a distribution over the prompts.

        Args:
            token_emb (Tensor): Projected first-stage image tokens [B, N, D].
            token_groups (Tensor): Assignment of the N tokens to the S final groups [B, S, N].
            text_emb (Tensor): Projected prompt embeddings [P, D].
            logit_scale (Tensor): Log temperature (scalar).

        Returns:
            Tensor: [B, S, P] (rows of groups holding no token are not meaningful).
        """
        scale = logit_scale.exp().clamp(max=self.max_logit_scale)
        if self.teacher == 'token_distributions':
            return mean_token_distributions(token_emb, token_groups, text_emb, scale)
        segment = F.normalize(token_groups.float() @ F.normalize(token_emb, dim=-1), dim=-1)
        return (scale * segment @ F.normalize(text_emb, dim=-1).t()).softmax(dim=-1)

    def forward(
        self,
        group_emb: Tensor,
        token_emb: Tensor,
        token_groups: Tensor,
        text_emb: Tensor,
        logit_scale: Tensor,
        target: Tensor | None = None,
    ) -> dict:
        """Compute the term.

        Args:
            group_emb (Tensor): Projected final group tokens [B, S, D].
            token_emb (Tensor): Projected first-stage image tokens [B, N, D].
            token_groups (Tensor): Assignment of the N tokens to the S final groups [B, S, N]
                (one-hot over S; groups holding no token are left out).
            text_emb (Tensor): Projected prompt embeddings [P, D].
            logit_scale (Tensor): Log temperature (scalar).
            target (Tensor, optional): :meth:`segment_distributions` of the same inputs
                [B, S, P], when the caller already has it (computed here otherwise).

        Returns:
            dict: ``{loss_name: scalar}``.
        """
        batch, groups, dim = group_emb.shape
        if token_groups.shape != (batch, groups, token_emb.shape[1]):
            raise ValueError(
                f'token_groups must be [B, S, N] = {(batch, groups, token_emb.shape[1])}, got '
                f'{tuple(token_groups.shape)}'
            )
        if token_emb.shape[::2] != (batch, dim) or text_emb.dim() != 2 or text_emb.shape[1] != dim:
            raise ValueError(
                f'group {tuple(group_emb.shape)}, token {tuple(token_emb.shape)} and text '
                f'{tuple(text_emb.shape)} embeddings need the same batch and channel sizes'
            )
        scale = logit_scale.detach().exp().clamp(max=self.max_logit_scale)  # a fixed ruler
        text = F.normalize(text_emb.detach(), dim=-1)
        if target is None:
            target = self.segment_distributions(token_emb, token_groups, text_emb, logit_scale)
        holds = token_groups.detach().sum(dim=-1) > 0.5  # [B, S]
        logp = (scale * F.normalize(group_emb, dim=-1) @ text.t()).log_softmax(dim=-1)
        kl = (target * (target.clamp_min(1e-12).log() - logp)).sum(dim=-1)  # [B, S]
        loss = (kl * holds).sum() / holds.sum().clamp_min(1)
        return {self.loss_name: self.loss_weight * loss}
