"""Noun-swap multiple-instance loss (our addition, not in the GroupViT paper).

The contrastive losses of GroupViT compare an image with the captions of OTHER images. A noun
those captions rarely pair with the same attributes ("red circle" when the batch's other red
things are few) gets little signal, and on the generated scenes the shapes are never learned
that way. This loss asks the question directly: for a noun prompt of an image (``template``
with ``"red circle"``), is it a better match for the image than the same prompt with its head
noun swapped ("red square", "red star", ... from the other captions of the batch)?

With L2-normalised token embeddings ``E`` [B, N, D] of each image, the score of a text t for
image b is ``s * max_n <E_bn, t>`` (multiple instance: the object covers a few tokens); for
each prompt p of image b with its swaps ``w_1..w_M``, the loss is the cross-entropy of
``[score(p), score(w_1), ..., score(w_M)]`` with the prompt as target, averaged over prompts
(swaps masked out where a prompt has fewer). The swaps come from
:func:`groupvit_scenes.noun_swaps.noun_swaps` (nouns of the same caption and generic
nouns such as "object" are never used: they may be true of the image).

A field of the scenes extension (``ScenesGroupingLosses(noun_swap_loss=dict(
type='NounSwapMILLoss'))``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class NounSwapMILLoss(nn.Module):
    """Cross-entropy of a noun prompt against its noun-swapped copies, on the best token.

    Args:
        num_swaps (int): M swapped copies per prompt (the model builds them).
        loss_weight (float): Weight of the term.
        max_logit_scale (float): Clamp of ``exp(logit_scale)``.
        loss_name (str): Key of the returned loss.
    """

    def __init__(
        self,
        *,
        num_swaps: int = 4,
        loss_weight: float = 1.0,
        max_logit_scale: float = 100.0,
        loss_name: str = 'loss_noun_swap',
    ) -> None:
        super().__init__()
        if num_swaps < 1 or loss_weight < 0:
            raise ValueError(
                f'NounSwapMILLoss needs num_swaps >= 1 and loss_weight >= 0, got {num_swaps} '
                f'and {loss_weight}'
            )
        self.num_swaps = int(num_swaps)
        self.loss_weight = float(loss_weight)
        self.max_logit_scale = float(max_logit_scale)
        self.loss_name = loss_name

    def forward(
        self,
        token_emb: Tensor,
        prompt_emb: Tensor,
        swap_emb: Tensor,
        swap_mask: Tensor,
        prompt_image: Tensor,
        logit_scale: Tensor,
        instance_mask: Tensor | None = None,
    ) -> dict:
        """Compute the term.

        Args:
            token_emb (Tensor): Projected tokens (or groups) [B, N, D].
            prompt_emb (Tensor): Projected prompts [P, D].
            swap_emb (Tensor): Projected swapped prompts [P, M, D].
            swap_mask (Tensor): [P, M] bool, True where a swap exists.
            prompt_image (Tensor): [P] image index of each prompt.
            logit_scale (Tensor): Log temperature (scalar).
            instance_mask (Tensor, optional): [B, N] bool, False for instances the max must
                skip (final groups that hold no token); each image needs at least one True.

        Returns:
            dict: ``{loss_name: scalar}`` (zero, with a graph, when no prompt has a swap).
        """
        num = prompt_emb.shape[0]
        if swap_emb.shape[:2] != swap_mask.shape or swap_emb.shape[0] != num:
            raise ValueError(
                f'swap embeddings {tuple(swap_emb.shape)} and mask {tuple(swap_mask.shape)} '
                f'need [P, M(, D)] with P = {num} prompts'
            )
        if prompt_image.shape != (num,):
            raise ValueError(f'prompt_image must be [{num}], got {tuple(prompt_image.shape)}')
        if instance_mask is not None and instance_mask.shape != token_emb.shape[:2]:
            raise ValueError(
                f'instance_mask {tuple(instance_mask.shape)} must be [B, N] = '
                f'{tuple(token_emb.shape[:2])}'
            )
        keep = swap_mask.any(dim=1)
        if not bool(keep.any()):
            return {self.loss_name: token_emb.sum() * 0.0}
        tokens = F.normalize(token_emb, dim=-1)[prompt_image[keep]]  # [P', N, D]
        texts = torch.cat([prompt_emb[keep, None], swap_emb[keep]], dim=1)  # [P', 1+M, D]
        texts = F.normalize(texts, dim=-1)
        scale = logit_scale.exp().clamp(max=self.max_logit_scale)
        sims = torch.einsum('pnd,pmd->pmn', tokens, texts)
        if instance_mask is not None:
            skip = ~instance_mask[prompt_image[keep]][:, None, :]  # [P', 1, N]
            sims = sims.masked_fill(skip, -2.0)  # below any cosine: never the max
        logits = scale * sims.amax(dim=-1)
        valid = torch.cat([torch.ones_like(swap_mask[keep, :1]), swap_mask[keep]], dim=1)
        logits = logits.masked_fill(~valid, torch.finfo(logits.dtype).min)
        target = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
        return {self.loss_name: self.loss_weight * F.cross_entropy(logits, target)}
