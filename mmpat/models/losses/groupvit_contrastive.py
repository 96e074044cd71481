"""GroupViT image-text contrastive losses with a differentiable all-gather.

The paper's training losses (``docs/methods/groupvit.md``):

- ``L_itc = 1/2 [CE(s z_I Z_T^T, y) + CE(s z_T Z_I^T, y)]``;
- multi-label (K prompts per image): image->prompts soft-target CE (1/K on its own K prompts),
  prompts->image CE, temperature ``multi_label_logit_scale``; ``L_ml = 1/2 (i2t + t2i)``;
- total ``L_itc + multi_label_weight * L_ml``.

Negatives are the whole global batch: features are all-gathered with gradient (the backward
sums the gradients of every process and keeps this process's slice), and each process averages
the loss over its local rows. With DDP's gradient averaging this equals single-process training
on the concatenated batch (tested with 2 gloo processes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from mmpat.models.utils import all_gather_with_grad


@MODELS.register_module()
class GroupViTContrastiveLoss(nn.Module):
    """Image-text contrastive loss, optionally with the multi-label (prompt) term.

    Args:
        multi_label_weight (float): Weight of ``L_ml`` (1.0, as the paper).
        max_logit_scale (float): Clamp of ``exp(logit_scale)`` (100, as CLIP).
        loss_name (str): Prefix of the returned loss keys.
    """

    def __init__(
        self,
        *,
        multi_label_weight: float = 1.0,
        max_logit_scale: float = 100.0,
        loss_name: str = 'loss',
    ) -> None:
        super().__init__()
        self.multi_label_weight = multi_label_weight
        self.max_logit_scale = max_logit_scale
        self.loss_name = loss_name

    def _scale(self, logit_scale: Tensor) -> Tensor:
        return logit_scale.exp().clamp(max=self.max_logit_scale)

    def forward(
        self,
        image_emb: Tensor,
        text_emb: Tensor,
        logit_scale: Tensor,
        prompt_emb: Tensor | None = None,
        multi_label_logit_scale: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Compute the losses over the global batch.

        Args:
            image_emb (Tensor): Image embeddings [B, D] (normalised here).
            text_emb (Tensor): Caption embeddings [B, D].
            logit_scale (Tensor): Log temperature (scalar).
            prompt_emb (Tensor, optional): Prompt embeddings [B, K, D] (multi-label term).
            multi_label_logit_scale (Tensor, optional): Log temperature of the multi-label term.

        Returns:
            dict: ``{name}_itc`` and, with prompts, ``{name}_multi_label`` (already weighted).
        """
        if image_emb.shape != text_emb.shape:
            raise ValueError(
                f'image {tuple(image_emb.shape)} and text {tuple(text_emb.shape)} embeddings '
                'must both be [B, D]'
            )
        image_emb = F.normalize(image_emb, dim=-1)
        text_emb = F.normalize(text_emb, dim=-1)
        all_images, offset = all_gather_with_grad(image_emb)
        all_texts, _ = all_gather_with_grad(text_emb)
        batch = image_emb.shape[0]
        target = torch.arange(offset, offset + batch, device=image_emb.device)
        s = self._scale(logit_scale)
        itc = 0.5 * (
            F.cross_entropy(s * image_emb @ all_texts.t(), target)
            + F.cross_entropy(s * text_emb @ all_images.t(), target)
        )
        losses = {f'{self.loss_name}_itc': itc}
        if prompt_emb is None or prompt_emb.shape[1] == 0:
            return losses
        if multi_label_logit_scale is None:
            raise ValueError('prompt embeddings need multi_label_logit_scale')
        num_prompts = prompt_emb.shape[1]
        prompt_emb = F.normalize(prompt_emb, dim=-1).flatten(0, 1)  # [B*K, D]
        all_prompts, _ = all_gather_with_grad(prompt_emb)  # [W*B*K, D]
        s_ml = self._scale(multi_label_logit_scale)
        # image -> prompts: target 1/K on the image's own K prompts
        logits = s_ml * image_emb @ all_prompts.t()
        soft = torch.zeros_like(logits)
        own = target[:, None] * num_prompts + torch.arange(num_prompts, device=logits.device)
        soft.scatter_(1, own, 1.0 / num_prompts)
        i2t = -(soft * logits.log_softmax(dim=-1)).sum(dim=-1).mean()
        # prompt -> images: target its own image
        t2i = F.cross_entropy(
            s_ml * prompt_emb @ all_images.t(), target.repeat_interleave(num_prompts)
        )
        losses[f'{self.loss_name}_multi_label'] = self.multi_label_weight * 0.5 * (i2t + t2i)
        return losses
