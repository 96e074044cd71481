"""Anti-collapse regulariser on GroupViT's grouping assignments (our addition, not in the paper).

Trained from scratch on small data (the generated scenes, CPU budgets), GroupViT falls into a
degenerate solution: every token of every image is assigned to ONE group, the image embedding
becomes a global average, and zero-shot segmentation labels the whole image with one class
(measured: 15-16 / 4 groups in use at initialisation, 1 / 1 after 500 iterations). The released
models, trained on 26M pairs, do not need this, so it is off by default (the paper's recipe).

For a grouping stage with soft assignment ``A`` [B, S, N] (softmax over the S groups) this
loss is the negative mutual information between tokens and groups within each image, as in
IIC-style clustering, normalised by ``log S`` so that stages with different S weigh alike:

* usage ``p_b = mean_n A[b, :, n]`` (share of image b's tokens per group): its entropy
  ``H(p_b)`` is high when an image uses many groups (pushes against the collapse);
* token entropy ``mean_n H(A[b, :, n])``: low when each token picks its group confidently (so
  the hard argmax used by the zero-shot protocol follows the soft assignment).

``loss = weight * mean_{stages, b} [ (log S - H(p_b)) + token_weight * H_tokens ] / log S``,
zero for an image whose tokens are confidently and evenly spread over all groups.

Per stage, a later stage's inputs are the groups of the stage before, EMPTY ones included, so
the second stage can meet the term by spreading the first stage's empty groups over its own
while every image token ends in two final groups (measured on the scenes, seed 2 of the grounded
recipe: 8 final groups used per image in the training log, 2.3 holding pixels). With
``composite=True`` the term applies once, to the image tokens' assignment to the final groups
(the product of the stages' soft assignments), which only pixels can use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mmseg.registry import MODELS
from torch import Tensor, nn

from mmpat.models.utils import compose_assignments


def _entropy(p: Tensor, dim: int) -> Tensor:
    return -(p * p.clamp_min(1e-12).log()).sum(dim=dim)


@MODELS.register_module()
class GroupUsageLoss(nn.Module):
    """Per-image group-usage entropy (+ token confidence) over the grouping stages.

    Args:
        loss_weight (float): Weight of the whole term (0 disables it).
        token_weight (float): Weight of the per-token assignment entropy inside the term.
        per_image (bool): Usage entropy of each image (True) or of the whole batch's usage
            (False: groups used evenly over the batch, so they can specialise by content).
        stages (Sequence[int], optional): Grouping stages (0-based) the term applies to
            (default: all).
        composite (bool): Apply the term once to the first-stage tokens' assignment to the
            final groups (the product of the stages) instead of to each stage.
        loss_name (str): Key of the returned loss.
    """

    def __init__(
        self,
        *,
        loss_weight: float = 1.0,
        token_weight: float = 1.0,
        per_image: bool = True,
        stages: Sequence[int] | None = None,
        composite: bool = False,
        loss_name: str = 'loss_groups',
    ) -> None:
        super().__init__()
        if loss_weight < 0 or token_weight < 0:
            raise ValueError(
                f'GroupUsageLoss weights must be >= 0, got loss_weight={loss_weight}, '
                f'token_weight={token_weight}'
            )
        self.loss_weight = float(loss_weight)
        self.token_weight = float(token_weight)
        self.per_image = bool(per_image)
        if composite and stages is not None:
            raise ValueError(
                'GroupUsageLoss(composite=True) applies to the product of all stages: '
                f'leave stages unset (got {list(stages)})'
            )
        self.composite = bool(composite)
        self.stages = None if stages is None else {int(i) for i in stages}
        self.loss_name = loss_name

    def forward(self, soft_assigns: Sequence[Tensor]) -> dict[str, Tensor]:
        """Compute the term.

        Args:
            soft_assigns (Sequence[Tensor]): Per grouping stage, [B, S, N] soft assignments
                (each column sums to 1 over the S groups).

        Returns:
            dict: ``{loss_name: scalar}``.
        """
        if not soft_assigns:
            raise ValueError('GroupUsageLoss needs at least one grouping stage assignment')
        if self.stages is not None and max(self.stages) >= len(soft_assigns):
            raise ValueError(
                f'GroupUsageLoss stages {sorted(self.stages)} but the model has '
                f'{len(soft_assigns)} grouping stage(s)'
            )
        if self.composite:
            soft_assigns = [compose_assignments(soft_assigns)]
        terms = []
        for stage, soft in enumerate(soft_assigns):
            if soft.dim() != 3:
                raise ValueError(
                    f'stage {stage} assignment must be [B, S, N], got {tuple(soft.shape)}'
                )
            if self.stages is not None and stage not in self.stages:
                continue
            num_groups = soft.shape[1]
            if num_groups < 2:
                continue  # one group: nothing to balance
            usage = soft.mean(dim=-1)  # [B, S]
            if not self.per_image:
                usage = usage.mean(dim=0)
            term = (math.log(num_groups) - _entropy(usage, dim=-1)).mean()
            if self.token_weight > 0:
                term = term + self.token_weight * _entropy(soft, dim=1).mean()
            terms.append(term / math.log(num_groups))
        loss = sum(terms) / max(len(terms), 1) if terms else soft_assigns[0].sum() * 0
        return {self.loss_name: self.loss_weight * loss}
