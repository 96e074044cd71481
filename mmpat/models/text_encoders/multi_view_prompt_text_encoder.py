"""``MultiViewPromptTextEncoder``: a vocabulary encoded with MVP-SEG's learned prompts.

The classifier of MVP-SEG+'s student: the k segmentation prompts of a trained MVP-SEG model
(``MultiPromptHead.seg_context``), kept frozen. MVP-SEG scores a pixel by the sum of its cosines
with the k prompt embeddings, which is a dot product with their sum; the class embedding here is
that sum, L2-normalised (so it plugs in wherever class embeddings are expected).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from mmpat.compat import load_checkpoint_file

CONTEXT_KEY = 'decode_head.seg_context'


def load_prompt_context(path: str, key: str = CONTEXT_KEY) -> Tensor:
    """The learned segmentation-prompt context [k, n_ctx, W] of an MVP-SEG checkpoint.

    Raises:
        KeyError: The checkpoint holds no such tensor (the message names the file and key).
    """
    checkpoint = load_checkpoint_file(path)
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else {}
    if key not in state:
        found = sorted(k for k in state if k.endswith('context'))[:5]
        raise KeyError(
            f'{path} has no {key!r}: not an MVP-SEG checkpoint (MultiPromptHead); '
            f'context tensors found: {found or "none"}'
        )
    context = state[key].detach().float()
    if context.dim() != 3:
        raise ValueError(f'{path}: {key} must be [k, n_ctx, W], got {tuple(context.shape)}')
    return context


@MODELS.register_module()
class MultiViewPromptTextEncoder(BaseModule):
    """Frozen CLIP text encoder + frozen multi-view prompts from an MVP-SEG checkpoint.

    Args:
        text_encoder (dict): The CLIP text encoder (``OpenCLIPTextEncoder`` config), the one
            the prompts were learned with.
        checkpoint (str, optional): MVP-SEG checkpoint holding ``decode_head.seg_context``.
            None (config tests) keeps random prompts of the given shape.
        num_prompts (int): k, checked against the checkpoint.
        n_ctx (int): Context vectors per prompt, checked against the checkpoint.
        context_key (str): State-dict key of the context.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(
        self,
        *,
        text_encoder: dict,
        checkpoint: str | None = None,
        num_prompts: int = 3,
        n_ctx: int = 8,
        context_key: str = CONTEXT_KEY,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.encoder = MODELS.build(text_encoder)
        for param in self.encoder.parameters():
            param.requires_grad = False
        self.width = self.encoder.width
        self.embed_dim = self.encoder.embed_dim
        self.preset = getattr(self.encoder, 'preset', None)
        expected = (num_prompts, n_ctx, self.width)
        if checkpoint is None:
            context = torch.randn(expected) * 0.02
        else:
            context = load_prompt_context(checkpoint, context_key)
            if tuple(context.shape) != expected:
                raise ValueError(
                    f'{checkpoint}: {context_key} has shape {tuple(context.shape)}, the config '
                    f'expects [num_prompts, n_ctx, width] = {list(expected)}; set num_prompts/'
                    'n_ctx as in the MVP-SEG config, with the same CLIP'
                )
        # Saved with the student (its checkpoints carry their classifier's prompts).
        self.register_buffer('context', context)

    def encode_vocabulary(
        self,
        class_names: Sequence[str | Sequence[str]],
        templates: str | Sequence[str] | None = None,
    ) -> Tensor:
        """[C, D] L2-normalised sums of the k prompt embeddings of each class.

        Args:
            class_names: C classes (entries may hold synonyms).
            templates: Ignored (the learned prompts replace templates).

        Returns:
            Tensor: [C, D].
        """
        with torch.no_grad():
            per_prompt = self.encoder.encode_with_prompts(self.context, class_names)
        return F.normalize(per_prompt.sum(dim=0), dim=-1)

    def forward(self, class_names: Sequence[str | Sequence[str]]) -> Tensor:
        """Same as :meth:`encode_vocabulary`."""
        return self.encode_vocabulary(class_names)

    def prompt_tokens(self, class_names, n_ctx: int):
        """The wrapped encoder's :meth:`OpenCLIPTextEncoder.prompt_tokens`."""
        return self.encoder.prompt_tokens(class_names, n_ctx)
