"""Configs of tiny GroupViTPretrain models with the scenes extension, for the project tests."""

import torch
from mmseg.registry import MODELS

TOKEN_TEXT_LOSS = dict(type='GroupTextMILLoss', loss_name='loss_token_text')

MODEL_FIELDS = ('arch', 'num_prompts', 'noun_phrases', 'prompt_templates', 'seed', 'loss')


def pretrain_cfg(**fields) -> dict:
    """A ``GroupViTPretrain`` config: model fields at the top, every other field (the losses of
    ``ScenesGroupingLosses``) in its ``extension``; ``arch`` defaults to GroupViT-test."""
    model = {key: fields.pop(key) for key in MODEL_FIELDS if key in fields}
    model.setdefault('arch', 'GroupViT-test')
    return dict(
        type='GroupViTPretrain', **model, extension=dict(type='ScenesGroupingLosses', **fields)
    )


def tiny_pretrain_with_token_loss(seed: int = 0):
    """GroupViT-test pretraining model, 2 prompts, with ``token_text_loss`` (token projector)."""
    torch.manual_seed(seed)
    return MODELS.build(pretrain_cfg(num_prompts=2, token_text_loss=TOKEN_TEXT_LOSS))
