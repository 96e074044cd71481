"""Build a GroupViT segmentor from a config and load any GroupViT weights into it (tools, demos)."""

from __future__ import annotations

import os.path as osp
from collections.abc import Sequence

from torch import nn


def load_groupvit_segmentor(
    config: str, checkpoint: str, cfg_options: Sequence[str] = ()
) -> tuple[nn.Module, object]:
    """Build the config's GroupViT segmentor (without its ``pretrained``) and load weights.

    Args:
        config (str): A GroupViT config file: the zero-shot segmentor (``OpenVocabEncoderDecoder``
            with ``GroupViTZeroShotHead``), ``GroupViTPretrain`` or ``GroupViTZeroShot``.
        checkpoint (str): mmpat checkpoint, released GroupViT ``.pth`` or HF state dict
            (converted on load).
        cfg_options (Sequence[str]): ``key=value`` overrides, as the tools' ``--cfg-options``.

    Returns:
        tuple: the model in eval mode and the (overridden) mmengine ``Config``.

    Raises:
        FileNotFoundError: Missing config or checkpoint.
        ValueError: Not a GroupViT segmentor, or weights that do not fit (message with shapes).
    """
    from mmengine.config import DictAction
    from mmseg.registry import MODELS

    from mmpat.models.groupvit import load_groupvit_weights
    from mmpat.utils.projects import load_config_file

    if not osp.isfile(config):
        raise FileNotFoundError(f'config {config!r} does not exist')
    cfg = load_config_file(str(config))
    overrides = {}
    for option in cfg_options:
        key, sep, value = option.partition('=')
        if not sep:
            raise ValueError(f'cfg option {option!r} is not key=value')
        overrides[key] = DictAction._parse_iterable(value)
    cfg.merge_from_dict(overrides)
    model_cfg = cfg.model.to_dict()
    model_cfg['pretrained'] = None
    for part in ('backbone', 'text_encoder', 'decode_head'):  # the zero-shot segmentor's parts
        if isinstance(model_cfg.get(part), dict) and 'pretrained' in model_cfg[part]:
            model_cfg[part]['pretrained'] = None
    model = MODELS.build(model_cfg)
    head = getattr(model, 'decode_head', None)
    if not hasattr(model, 'group_assignment') and not hasattr(head, 'group_assignment'):
        raise ValueError(f'{config}: model type {model_cfg["type"]} is not a GroupViT segmentor')
    try:
        load_groupvit_weights(model, checkpoint, getattr(model, 'arch_name', 'custom'))
    except RuntimeError as err:
        raise ValueError(str(err)) from None
    return model.eval(), cfg
