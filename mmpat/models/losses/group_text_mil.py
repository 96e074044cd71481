"""Group-text multiple-instance contrastive loss (our addition, not in the GroupViT paper).

GroupViT trains only the image embedding, the MEAN of its final groups, yet names each group
alone at test time. At scale that transfers; on the small scenes benchmark it does not: an
image's embedding names the dominant object's colour right 70% of the time while the group
that holds the object does so 31% of the time (measured with
``tools/analysis/groupvit_grouping_report.py``), because what a group token carries beyond
the mean (its slot identity) is never trained. This loss trains the groups directly with the
same caption supervision, as multiple-instance learning: a noun prompt of an image should
match the image's BEST group better than any group of the other images.

With group embeddings ``G`` [B, S, D] and the K prompt embeddings ``T`` [B, K, D] of each image
(both L2-normalised, all-gathered over processes), the score of prompt p and image b is
``m[p, b] = s * max_g <T_p, G_bg>``; then, as the multi-label loss,

* prompt -> images: cross-entropy of ``m[p, :]`` with the prompt's own image as target;
* image -> prompts: cross-entropy of ``m[:, b]`` with target 1/K on the image's own prompts;

``loss = loss_weight * (p2i + i2p) / 2``. Off by default (the spec recipe is exact);
``GroupViTPretrain(group_text_loss=dict(type='GroupTextMILLoss'))`` turns it on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from mmpat.models.utils import all_gather_with_grad


@MODELS.register_module()
class GroupTextMILLoss(nn.Module):
    """Contrastive loss between noun prompts and the best-matching group of each image.

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
        loss_name: str = 'loss_group_text',
    ) -> None:
        super().__init__()
        if loss_weight < 0:
            raise ValueError(f'GroupTextMILLoss loss_weight must be >= 0, got {loss_weight}')
        self.loss_weight = float(loss_weight)
        self.max_logit_scale = float(max_logit_scale)
        self.loss_name = loss_name

    def forward(self, group_emb: Tensor, prompt_emb: Tensor, logit_scale: Tensor) -> dict:
        """Compute the term over the global batch.

        Args:
            group_emb (Tensor): Projected final group tokens [B, S, D].
            prompt_emb (Tensor): Projected prompt embeddings, K per image [B, K, D].
            logit_scale (Tensor): Log temperature (scalar).

        Returns:
            dict: ``{loss_name: scalar}``.
        """
        if group_emb.dim() != 3 or prompt_emb.dim() != 3:
            raise ValueError(
                f'group embeddings must be [B, S, D] and prompts [B, K, D], got '
                f'{tuple(group_emb.shape)} and {tuple(prompt_emb.shape)}'
            )
        if group_emb.shape[0] != prompt_emb.shape[0] or group_emb.shape[2] != prompt_emb.shape[2]:
            raise ValueError(
                f'group embeddings {tuple(group_emb.shape)} and prompts '
                f'{tuple(prompt_emb.shape)} need the same batch and channel sizes'
            )
        batch, groups, dim = group_emb.shape
        num_prompts = prompt_emb.shape[1]
        group_emb = F.normalize(group_emb, dim=-1)
        prompt_emb = F.normalize(prompt_emb, dim=-1).flatten(0, 1)  # [B*K, D]
        all_groups, offset = all_gather_with_grad(group_emb.flatten(1))  # [W*B, S*D]
        all_groups = all_groups.view(-1, groups, dim)
        all_prompts, _ = all_gather_with_grad(prompt_emb)  # [W*B*K, D]
        scale = logit_scale.exp().clamp(max=self.max_logit_scale)
        target = torch.arange(offset, offset + batch, device=group_emb.device)
        # prompt -> images: this process's prompts against every image's best group
        p2i_logits = scale * torch.einsum('pd,bsd->pbs', prompt_emb, all_groups).amax(dim=-1)
        p2i = F.cross_entropy(p2i_logits, target.repeat_interleave(num_prompts))
        # image -> prompts: this process's images against every prompt, 1/K on their own
        i2p_logits = scale * torch.einsum('bsd,pd->bps', group_emb, all_prompts).amax(dim=-1)
        soft = torch.zeros_like(i2p_logits)
        own = target[:, None] * num_prompts + torch.arange(num_prompts, device=soft.device)
        soft.scatter_(1, own, 1.0 / num_prompts)
        i2p = -(soft * i2p_logits.log_softmax(dim=-1)).sum(dim=-1).mean()
        return {self.loss_name: self.loss_weight * 0.5 * (p2i + i2p)}
