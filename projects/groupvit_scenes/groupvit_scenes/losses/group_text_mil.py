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

``loss = loss_weight * (p2i + i2p) / 2``.

With ``own_image_negatives=True`` the prompt -> images term also counts the image's OTHER groups
as negatives (every group of the prompt's own image except the best one): a group must then
name its own segment better than the other groups of the same image name it, which neither
the mean-pooled image loss nor the plain max can ask for (the best group could carry the whole
caption through the pre-assignment attention and the other groups echo it).

Groups that hold no token (``group_mask`` False: no segment in the image) are left out of
every max: their embedding is the group query alone, which sees the whole image through the
pre-assignment attention, and picking it would name the image rather than a segment.

With ``unmatched_weight > 0`` the groups of an image that none of its prompts picks (its
background, as far as the caption tells) are trained to name nothing: the term is the
normalised entropy gap ``1 - H(softmax(s <G_bg, T>)) / log P`` over all P prompts of the
global batch, summed over those groups, divided by the B*S group slots (so that every process
weighs its images alike) and scaled by ``unmatched_weight`` (returned as
``loss_group_unmatched``). The zero-shot protocol labels a group by how peaked its class
scores are, so a background group must be flat while an object group is peaked.

A field of the scenes extension (``ScenesGroupingLosses(group_text_loss=dict(
type='GroupTextMILLoss'))``; also its ``token_text_loss``, on the image tokens).
"""

from __future__ import annotations

import math

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
        own_image_negatives (bool): Also contrast a prompt's best group with the other groups
            of its own image (see the module docstring).
        unmatched_weight (float): Weight of the flatness term on the groups no prompt of the
            image picks (0: off).
        loss_name (str): Key of the returned loss.
    """

    def __init__(
        self,
        *,
        loss_weight: float = 1.0,
        max_logit_scale: float = 100.0,
        own_image_negatives: bool = False,
        unmatched_weight: float = 0.0,
        loss_name: str = 'loss_group_text',
    ) -> None:
        super().__init__()
        for name, value in (('loss_weight', loss_weight), ('unmatched_weight', unmatched_weight)):
            if value < 0:
                raise ValueError(f'GroupTextMILLoss {name} must be >= 0, got {value}')
        self.unmatched_weight = float(unmatched_weight)
        self.loss_weight = float(loss_weight)
        self.max_logit_scale = float(max_logit_scale)
        self.own_image_negatives = bool(own_image_negatives)
        self.loss_name = loss_name

    def forward(
        self,
        group_emb: Tensor,
        prompt_emb: Tensor,
        logit_scale: Tensor,
        group_mask: Tensor | None = None,
        selection: Tensor | None = None,
    ) -> dict:
        """Compute the term over the global batch.

        Args:
            group_emb (Tensor): Projected final group tokens [B, S, D].
            prompt_emb (Tensor): Projected prompt embeddings, K per image [B, K, D].
            logit_scale (Tensor): Log temperature (scalar).
            group_mask (Tensor, optional): [B, S] bool, True for the groups that hold at least
                one token (None: all groups count). Every image needs one.
            selection (Tensor, optional): [B, S, K] scores that choose the group of each
                prompt in its own image (e.g. how strongly the group's pixels name the prompt)
                instead of the group embedding's best match; None: the best match.

        Returns:
            dict: ``{loss_name: scalar}`` (and ``loss_group_unmatched`` with
            ``unmatched_weight > 0``).
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
        if group_mask is None:
            group_mask = torch.ones(batch, groups, dtype=torch.bool, device=group_emb.device)
        if group_mask.shape != (batch, groups) or not bool(group_mask.any(dim=1).all()):
            raise ValueError(
                f'group_mask must be [B, S] = {(batch, groups)} with a True in every row, got '
                f'{tuple(group_mask.shape)}'
            )
        group_emb = F.normalize(group_emb, dim=-1)
        prompt_emb = F.normalize(prompt_emb, dim=-1).flatten(0, 1)  # [B*K, D]
        all_groups, offset = all_gather_with_grad(group_emb.flatten(1))  # [W*B, S*D]
        all_groups = all_groups.view(-1, groups, dim)
        all_prompts, _ = all_gather_with_grad(prompt_emb)  # [W*B*K, D]
        all_mask = all_gather_with_grad(group_mask.to(torch.uint8), with_grad=False)[0].bool()
        void = torch.finfo(group_emb.dtype).min  # empty groups never win a max
        scale = logit_scale.exp().clamp(max=self.max_logit_scale)
        target = torch.arange(offset, offset + batch, device=group_emb.device)
        # prompt -> images: this process's prompts against every image's best group
        prompt_image = target.repeat_interleave(num_prompts)  # [B*K] row of each prompt's image
        scores = scale * torch.einsum('pd,bsd->pbs', prompt_emb, all_groups)  # [B*K, W*B, S]
        p2i_logits = scores.masked_fill(~all_mask[None], void).amax(dim=-1)
        own_scores = scores[torch.arange(len(prompt_image)), prompt_image]  # [B*K, S]
        own_scores = own_scores.masked_fill(~all_mask[prompt_image], float('-inf'))
        best = own_scores.argmax(dim=1, keepdim=True)
        if selection is not None:
            if selection.shape != (batch, groups, num_prompts):
                raise ValueError(
                    f'selection must be [B, S, K] = {(batch, groups, num_prompts)}, got '
                    f'{tuple(selection.shape)}'
                )
            chosen = selection.detach().transpose(1, 2).flatten(0, 1)  # [B*K, S]
            best = chosen.masked_fill(~group_mask.repeat_interleave(num_prompts, 0), -1e30)
            best = best.argmax(dim=1, keepdim=True)
            # the prompt's own image scores with the chosen group, not its best match
            picked_score = own_scores.gather(1, best)  # [B*K, 1]
            p2i_logits = p2i_logits.scatter(1, prompt_image[:, None], picked_score)
        if self.own_image_negatives and groups > 1:
            others = own_scores.scatter(1, best, float('-inf'))  # the best group is the target
            p2i_logits = torch.cat([p2i_logits, others], dim=1)
        p2i = F.cross_entropy(p2i_logits, prompt_image)
        # image -> prompts: this process's images against every prompt, 1/K on their own
        i2p_logits = scale * torch.einsum('bsd,pd->bps', group_emb, all_prompts)
        i2p_logits = i2p_logits.masked_fill(~group_mask[:, None], void).amax(dim=-1)
        soft = torch.zeros_like(i2p_logits)
        own = target[:, None] * num_prompts + torch.arange(num_prompts, device=soft.device)
        if selection is not None:  # own prompts against their chosen groups
            i2p_logits = i2p_logits.scatter(1, own, picked_score.view(batch, num_prompts))
        soft.scatter_(1, own, 1.0 / num_prompts)
        i2p = -(soft * i2p_logits.log_softmax(dim=-1)).sum(dim=-1).mean()
        losses = {self.loss_name: self.loss_weight * 0.5 * (p2i + i2p)}
        if self.unmatched_weight > 0:
            picked = torch.zeros_like(group_mask).scatter_(
                1, best.view(batch, num_prompts), True
            )  # [B, S]: groups some prompt of the image picks
            unmatched = group_mask & ~picked
            logp = (scale * group_emb @ all_prompts.t()).log_softmax(dim=-1)  # [B, S, P]
            entropy = -(logp.exp() * logp).sum(dim=-1)
            gap = 1.0 - entropy / math.log(max(all_prompts.shape[0], 2))
            gap = (gap * unmatched).sum() / unmatched.numel()
            losses['loss_group_unmatched'] = self.unmatched_weight * gap
        return losses
