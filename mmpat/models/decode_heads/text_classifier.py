"""The text-embedding classifier shared by the open-vocabulary heads.

A head classifies each pixel by the cosine between its (projected) feature and the segmentor's
class text embeddings, ``logit_scale * <normalise(feat[:, :, i, j]), T_c>``; the inputs come from
``OpenVocabEncoderDecoder`` as a dict (the backbone's features plus ``'class_embeddings'``).
Used by ``DenseCLIPHead`` and the ``TextClassifier*ASPPHead`` heads.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

# mmseg initialises ``conv_seg`` N(0, 0.01); a head's text projection ``proj`` replaces it.
PROJ_INIT = dict(type='Normal', std=0.01, override=dict(name='proj'))


def text_logits(feat: Tensor, texts: Tensor, log_scale: Tensor) -> Tensor:
    """Scaled cosine logits of pixel features against class text embeddings.

    Args:
        feat: Pixel features in text space [B, D, h, w] (normalised here).
        texts: Class embeddings [C, D] (L2-normalised by the text encoder).
        log_scale: Log of the logit scale (a scalar tensor).

    Returns:
        Tensor: Logits [B, C, h, w].
    """
    pixels = F.normalize(feat, dim=1)
    return log_scale.exp() * torch.einsum('bdhw,cd->bchw', pixels, texts.to(pixels.dtype))


def describe_inputs(inputs: Any) -> str:
    """A short description of what a head was handed (for error messages)."""
    if isinstance(inputs, dict):
        return f'a dict with keys {sorted(map(str, inputs))}'
    if isinstance(inputs, (tuple, list)):
        kinds = sorted({type(item).__name__ for item in inputs})
        text = f'a {type(inputs).__name__} of {len(inputs)} {"/".join(kinds) or "item"}s'
        if inputs and all(torch.is_tensor(item) for item in inputs):
            text += f' (shapes {", ".join(str(list(item.shape)) for item in inputs)})'
        return text
    return f'a {type(inputs).__name__}'


def require_open_vocab_inputs(head: Any, inputs: Any, needs: str) -> None:
    """Refuse anything but ``OpenVocabEncoderDecoder``'s dict inputs, with a clear TypeError.

    Args:
        head: The head (its class name goes in the message).
        inputs: What the head's ``forward`` received.
        needs: The feature entries the head reads besides ``'class_embeddings'``.

    Raises:
        TypeError: ``inputs`` is not a dict or has no ``'class_embeddings'``.
    """
    if isinstance(inputs, dict) and 'class_embeddings' in inputs:
        return
    hint = ''
    if isinstance(inputs, (tuple, list)):
        hint = " (a plain mmseg EncoderDecoder passes the backbone's maps and no class embeddings)"
    raise TypeError(
        f'{type(head).__name__} received {describe_inputs(inputs)}{hint}; it needs a dict '
        f"with {needs} and 'class_embeddings' [C, D]: use it under OpenVocabEncoderDecoder "
        '(type="OpenVocabEncoderDecoder" with a text_encoder)'
    )


def check_text_width(head: Any, embed_dims: int, texts: Tensor) -> None:
    """The class embeddings must be ``embed_dims`` wide (the head's projection width).

    Raises:
        ValueError: Naming both widths.
    """
    if texts.shape[-1] != embed_dims:
        raise ValueError(
            f'{type(head).__name__}: embed_dims={embed_dims} but the class embeddings have '
            f"{texts.shape[-1]} channels; set embed_dims to the text encoder's"
        )
