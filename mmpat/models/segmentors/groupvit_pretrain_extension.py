"""The one extension point of ``GroupViTPretrain``: extra training terms beyond the paper's.

``GroupViTPretrain`` trains with the paper's losses only (image-text contrastive + multi-label
over noun prompts). A recipe that needs more (for example the grouping losses of the generated
scenes, ``projects/groupvit_scenes/``) plugs in one registered module through the model's
``extension`` config field:

.. code-block:: python

    model = dict(type='GroupViTPretrain', ..., extension=dict(type='MyExtension', ...))

The module subclasses :class:`GroupViTPretrainExtension` and may override three hooks, called
once per model or training step:

- :meth:`~GroupViTPretrainExtension.bind` (at construction, after the model's own parts are
  built): check the model fits and create parameters that depend on its widths (they become
  part of the model as ``extension.*``, trained and saved with it);
- :meth:`~GroupViTPretrainExtension.extra_texts` (each step, before the text pass): more texts
  to encode in the same text-encoder pass as the captions and prompts;
- :meth:`~GroupViTPretrainExtension.losses` (each step, after the paper's losses): more loss
  terms (names containing ``'loss'`` are summed by mmengine; others are only logged).

Everything a hook may read is in :class:`PretrainStep`. The model is passed to every call rather
than stored, so it is not registered as a submodule of its own extension.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torch import Tensor, nn

if TYPE_CHECKING:
    from .groupvit_pretrain import GroupViTPretrain


@dataclass
class PretrainStep:
    """What one ``GroupViTPretrain`` training step computed, for its extension.

    Attributes:
        captions (list[str]): The B captions of the batch.
        phrases (list[list[tuple[str, str]]]): Per caption, its sampled (template, noun phrase)
            prompts (at most K; a caption without nouns is padded with itself, not listed here).
        feats (dict): The backbone outputs (train mode): ``'pooled'``, ``'tokens'`` [B, S, C]
            (final groups), ``'assigns'`` / ``'soft_assigns'`` (per stage, [B, S_out, N_in]),
            ``'stage_tokens'`` (the image tokens entering each stage, [B, N, C]).
        image_emb (Tensor): Projected image embeddings [B, D] (not normalised).
        caption_emb (Tensor): Projected caption embeddings [B, D].
        prompt_emb (Tensor | None): Projected prompt embeddings [B, K, D] (None when K = 0).
        extra_emb (Tensor): Projected embeddings of the extension's ``extra_texts`` [T, D]
            (in their order; [0, D] when there are none).
        extra (dict): Whatever ``extra_texts`` returned besides the texts (e.g. their slots).
    """

    captions: list[str]
    phrases: list[list[tuple[str, str]]]
    feats: dict
    image_emb: Tensor
    caption_emb: Tensor | None = None
    prompt_emb: Tensor | None = None
    extra_emb: Tensor | None = None
    extra: dict = field(default_factory=dict)


class GroupViTPretrainExtension(nn.Module):
    """Base class of ``GroupViTPretrain`` extensions: every hook does nothing by default."""

    def bind(self, model: GroupViTPretrain) -> None:
        """Check that ``model`` fits and create parameters sized by it (default: nothing).

        Args:
            model (GroupViTPretrain): The model this extension belongs to (fully built).

        Raises:
            ValueError: The model does not fit the extension (say which field to change).
        """

    def extra_texts(self, model: GroupViTPretrain, step: PretrainStep) -> tuple[list[str], dict]:
        """Texts to encode in the step's text pass (the text embeddings are not set yet).

        Args:
            model (GroupViTPretrain): The model (its ``rng`` is the prompt sampler's generator).
            step (PretrainStep): The captions and sampled phrases of the step.

        Returns:
            tuple: The texts, and a dict stored as ``step.extra`` for :meth:`losses`.
        """
        return [], {}

    def losses(self, model: GroupViTPretrain, step: PretrainStep) -> dict[str, Tensor]:
        """Extra loss terms (and logged values) of the step.

        Args:
            model (GroupViTPretrain): The model (projectors, temperatures, vocabulary).
            step (PretrainStep): The step's inputs and embeddings.

        Returns:
            dict[str, Tensor]: Added to the paper's losses, after them.
        """
        return {}
