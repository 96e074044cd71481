"""Convert GroupViT weights to mmpat: released ``.pth`` files and HF ``GroupViTModel`` dicts.

Layouts:

- released (the authors' checkpoints): ``{'model': {img_encoder.*, text_encoder.*,
  img_projector.*, text_projector.*, logit_scale, multi_label_logit_scale}}``; projector
  linears are Conv1d(k=1).
- HF: ``vision_model.*``, ``text_model.*``, ``visual_projection.{0,1,3}``,
  ``text_projection.{0,1,3}``, ``logit_scale``; separate q/k/v projections.
- mmpat (``OpenVocabEncoderDecoder`` with the ``GroupViT`` backbone, ``GroupViTTextEncoder``
  and ``GroupViTZeroShotHead``; also ``GroupViTZeroShot`` / ``GroupViTPretrain``):
  ``backbone.*`` (the released ``img_encoder`` names), ``text_encoder.*`` (the released names)
  with ``text_encoder.projector.*`` (the released ``text_projector``, Linear),
  ``decode_head.img_projector.*`` (Linear), ``decode_head.logit_scale``,
  ``decode_head.multi_label_logit_scale``.
- mmpat before the head existed (legacy): the projectors and the two scales at the top level
  (``img_projector.*``, ``text_projector.*``, ``logit_scale``, ``multi_label_logit_scale``).
  :func:`upgrade_legacy_keys` renames them; the segmentors do so on load, so old checkpoints
  load with ``load_from=`` / ``init_model`` too.

HF -> mmpat goes through the released layout (:func:`hf_to_released`).

The conversion is of weights only: GroupViT weights carry no vocabulary (the same file serves
the VOC, Context and COCO-Object configs). :func:`groupvit_checkpoint` wraps a converted state
dict as an mmseg 1.x checkpoint whose ``meta.dataset_meta`` names a vocabulary when one is
given (``tools/model_converters/groupvit2mmpat.py --config``: the classes of that config's test
dataset); without one, ``mmseg.apis.init_model`` / ``MMSegInferencer`` leave the model the
classes of the test dataset of the config it is built from
(:mod:`mmpat.models.segmentors.config_vocabulary`). ``pretrained=`` loading
(:func:`load_groupvit_weights`, :func:`load_groupvit_part`) reads the weights only.
"""

from __future__ import annotations

import math
import os.path as osp
import re
from collections.abc import Mapping, MutableMapping

import torch
from torch import Tensor, nn

_PROJ = {'0': 'linear_hidden.0', '1': 'linear_hidden.1', '3': 'linear_out'}

# Released (and legacy mmpat) names -> the mmpat layout, for the parts outside the encoders.
_MOVED_PREFIXES = {
    'img_projector.': 'decode_head.img_projector.',
    'text_projector.': 'text_encoder.projector.',
}
_MOVED_KEYS = {
    'logit_scale': 'decode_head.logit_scale',
    'multi_label_logit_scale': 'decode_head.multi_label_logit_scale',
}


def _cat_qkv(sd: Mapping[str, Tensor], prefix: str, suffix: str) -> Tensor:
    return torch.cat([sd[f'{prefix}{n}_proj.{suffix}'] for n in 'qkv'], dim=0)


def hf_to_released(hf: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rewrite an HF ``GroupViTModel`` state dict into the released checkpoint layout.

    Args:
        hf: HF state dict (keys ``vision_model.*``, ``text_model.*``, ...).

    Returns:
        dict: Released-layout state dict (Conv1d projector weights [out, in, 1]).

    Raises:
        KeyError: A key this mapping does not know (names it).
    """
    out: dict[str, Tensor] = {}
    done: set[str] = set()
    for key, value in hf.items():
        if key in done or key.endswith('position_ids'):
            continue
        new = None
        m = re.match(
            r'(vision_model\.encoder\.stages\.\d+\.layers\.\d+\.)self_attn\.([qkv])_proj\.(\w+)',
            key,
        )
        t = re.match(r'(text_model\.encoder\.layers\.\d+\.)self_attn\.([qkv])_proj\.(\w+)', key)
        if m:
            prefix, suffix = m.group(1) + 'self_attn.', m.group(3)
            s, b = re.findall(r'\d+', m.group(1))
            out[f'img_encoder.layers.{s}.blocks.{b}.attn.qkv.{suffix}'] = _cat_qkv(
                hf, prefix, suffix
            )
            done.update(f'{prefix}{n}_proj.{suffix}' for n in 'qkv')
            continue
        if t:
            prefix, suffix = t.group(1) + 'self_attn.', t.group(3)
            (i,) = re.findall(r'\d+', t.group(1))
            name = 'in_proj_weight' if suffix == 'weight' else 'in_proj_bias'
            out[f'text_encoder.transformer.resblocks.{i}.attn.{name}'] = _cat_qkv(
                hf, prefix, suffix
            )
            done.update(f'{prefix}{n}_proj.{suffix}' for n in 'qkv')
            continue
        if key.startswith('vision_model.'):
            new = _hf_vision_key(key[len('vision_model.') :])
        elif key.startswith('text_model.'):
            new = _hf_text_key(key[len('text_model.') :])
        elif key.startswith(('visual_projection.', 'text_projection.')):
            head, index, param = key.split('.', 2)
            target = 'img_projector' if head == 'visual_projection' else 'text_projector'
            new = f'{target}.{_PROJ[index]}.{param}'
            if index in ('0', '3') and param == 'weight':
                value = value[..., None]
        elif key == 'logit_scale':
            new = key
        if new is None:
            raise KeyError(f'HF GroupViT key {key!r} has no released-layout equivalent')
        out[new] = value
    return out


def _hf_vision_key(key: str) -> str | None:
    simple = {
        'embeddings.patch_embeddings.projection.weight': 'patch_embed.proj.weight',
        'embeddings.patch_embeddings.projection.bias': 'patch_embed.proj.bias',
        'embeddings.layernorm.weight': 'patch_embed.norm.weight',
        'embeddings.layernorm.bias': 'patch_embed.norm.bias',
        'embeddings.position_embeddings': 'pos_embed',
        'layernorm.weight': 'norm.weight',
        'layernorm.bias': 'norm.bias',
    }
    if key in simple:
        return 'img_encoder.' + simple[key]
    m = re.match(r'encoder\.stages\.(\d+)\.(.*)', key)
    if not m:
        return None
    stage, rest = m.groups()
    b = re.match(r'layers\.(\d+)\.(.*)', rest)
    if b:
        block, rest = b.groups()
        rest = rest.replace('layer_norm1', 'norm1').replace('layer_norm2', 'norm2')
        rest = rest.replace('self_attn.out_proj', 'attn.proj')
        rest = f'blocks.{block}.{rest}'
    else:
        rest = rest.replace('pre_assign_attn.attn.out_proj', 'pre_assign_attn.attn.proj')
    return f'img_encoder.layers.{stage}.{rest}'


def _hf_text_key(key: str) -> str | None:
    simple = {
        'embeddings.token_embedding.weight': 'token_embedding.weight',
        'embeddings.position_embedding.weight': 'positional_embedding',
        'final_layer_norm.weight': 'ln_final.weight',
        'final_layer_norm.bias': 'ln_final.bias',
    }
    if key in simple:
        return 'text_encoder.' + simple[key]
    m = re.match(r'encoder\.layers\.(\d+)\.(.*)', key)
    if not m:
        return None
    index, rest = m.groups()
    for old, new in (
        ('self_attn.out_proj', 'attn.out_proj'),
        ('layer_norm1', 'ln_1'),
        ('layer_norm2', 'ln_2'),
        ('mlp.fc1', 'mlp.c_fc'),
        ('mlp.fc2', 'mlp.c_proj'),
    ):
        rest = rest.replace(old, new)
    return f'text_encoder.transformer.resblocks.{index}.{rest}'


def released_to_mmpat(released: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename a released-layout state dict to mmpat (see the module docstring).

    A missing ``multi_label_logit_scale`` (HF dicts have none) is set to log(1/0.07), the
    paper's initial value.
    """
    out: dict[str, Tensor] = {}
    for key, value in released.items():
        if key.startswith('img_encoder.'):
            key = 'backbone.' + key[len('img_encoder.') :]
        elif key.startswith(tuple(_MOVED_PREFIXES)):
            if value.dim() == 3 and key.endswith('.weight'):
                value = value.squeeze(-1)
            head = key.split('.', 1)[0] + '.'
            key = _MOVED_PREFIXES[head] + key[len(head) :]
        elif key in _MOVED_KEYS:
            key = _MOVED_KEYS[key]
        elif not key.startswith('text_encoder.'):
            raise KeyError(f'released GroupViT key {key!r} is not part of the model')
        out[key] = value
    if 'decode_head.logit_scale' in out and 'decode_head.multi_label_logit_scale' not in out:
        out['decode_head.multi_label_logit_scale'] = torch.tensor(math.log(1 / 0.07))
    return out


def upgrade_legacy_keys(state_dict: MutableMapping[str, Tensor], prefix: str = '') -> bool:
    """Rename, in place, the keys of the legacy mmpat layout (projectors and scales at the top
    level) to the current one; keys already in the current layout are left alone.

    Args:
        state_dict: A state dict (e.g. the one a segmentor's ``_load_from_state_dict`` gets).
        prefix: The segmentor's prefix in ``state_dict`` ('' for a whole-model dict).

    Returns:
        bool: Whether a key was renamed.
    """
    renamed = False
    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        new = _MOVED_KEYS.get(rest)
        if new is None:
            head = rest.split('.', 1)[0] + '.'
            if head in _MOVED_PREFIXES:
                new = _MOVED_PREFIXES[head] + rest[len(head) :]
        if new is not None and prefix + new not in state_dict:
            state_dict[prefix + new] = state_dict.pop(key)
            renamed = True
    return renamed


def convert_groupvit_state_dict(checkpoint: Mapping) -> dict[str, Tensor]:
    """Convert any supported GroupViT checkpoint object to the mmpat layout.

    Args:
        checkpoint: A released checkpoint (``{'model': ...}``), a bare released state dict, an
            HF ``GroupViTModel`` state dict, or an mmpat checkpoint (``{'state_dict': ...}``
            or a bare mmpat state dict; returned unchanged).

    Returns:
        dict: mmpat state dict.

    Raises:
        ValueError: The layout is not recognised (lists some keys).
    """
    sd = checkpoint
    for wrapper in ('model', 'state_dict'):
        if isinstance(sd.get(wrapper), Mapping):
            sd = sd[wrapper]
            break
    sd = {k[len('module.') :] if k.startswith('module.') else k: v for k, v in sd.items()}
    keys = list(sd)
    if any(k.startswith('vision_model.') for k in keys):
        return released_to_mmpat(hf_to_released(sd))
    if any(k.startswith('img_encoder.') for k in keys):
        return released_to_mmpat(sd)
    if any(k.startswith('backbone.') for k in keys):
        sd = dict(sd)
        upgrade_legacy_keys(sd)
        return sd
    raise ValueError(
        'not a GroupViT checkpoint (expected keys img_encoder.* (released), vision_model.* '
        f'(HF) or backbone.* (mmpat)); first keys: {keys[:5]}'
    )


def check_groupvit_shapes(
    model: nn.Module, state_dict: Mapping[str, Tensor], arch: str, part: str | None = None
) -> None:
    """Refuse a checkpoint of another GroupViT variant with a message listing the shapes.

    Args:
        model: The mmpat model (or one part of it).
        state_dict: mmpat-layout state dict (of that part, without its prefix).
        arch: Name of the model's architecture (for the message).
        part: What ``state_dict`` is when ``model`` is one part of a segmentor (for the
            message, e.g. "the backbone of 'x.pth'"), None for a whole model.

    Raises:
        ValueError: Some parameters differ in shape, or are missing / unexpected.
    """
    own = model.state_dict()
    wrong = [
        f'  {k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
        for k, v in state_dict.items()
        if k in own and tuple(own[k].shape) != tuple(v.shape)
    ]
    missing = [k for k in own if k not in state_dict and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in state_dict if k not in own]
    if wrong or missing or unexpected:
        if part is None:
            lines = [f'checkpoint does not fit GroupViT arch {arch!r} (another variant?):']
        else:
            lines = [f'{part} does not fit the {arch} (another GroupViT variant?):']
        if wrong:
            lines += [f'{len(wrong)} shape mismatches:', *wrong[:10]]
        if missing:
            lines.append(f'{len(missing)} missing keys, e.g. {missing[:5]}')
        if unexpected:
            lines.append(f'{len(unexpected)} unexpected keys, e.g. {unexpected[:5]}')
        lines.append('Set the model arch to the checkpoint variant (see GROUPVIT_PRESETS).')
        raise ValueError('\n'.join(lines))


def groupvit_checkpoint(
    state_dict: Mapping[str, Tensor], *, meta: dict | None = None, dataset_meta: dict | None = None
) -> dict:
    """An mmseg 1.x checkpoint ``{'state_dict', 'meta'}`` of converted weights.

    Args:
        state_dict: mmpat-layout state dict.
        meta: Other meta entries (source, arch, ...).
        dataset_meta: The vocabulary (``classes``, ``palette``, optionally
            ``class_synonyms``; see :func:`mmpat.models.segmentors.config_vocabulary.
            vocabulary_meta`), or None for none (see the module docstring).

    Returns:
        dict: The checkpoint, for ``torch.save``.
    """
    meta = dict(meta or {})
    if dataset_meta is not None:
        if not dataset_meta.get('classes'):
            raise ValueError('dataset_meta needs "classes"')
        meta['dataset_meta'] = dict(dataset_meta)
    return dict(state_dict=dict(state_dict), meta=meta)


def load_groupvit_weights(model: nn.Module, checkpoint: str | Mapping, arch: str) -> None:
    """Load a GroupViT checkpoint (path or object, any supported layout) into ``model``.

    Args:
        model: A GroupViT segmentor (``OpenVocabEncoderDecoder`` with the GroupViT parts,
            ``GroupViTZeroShot``, ``GroupViTPretrain``).
        checkpoint: Local file path or a loaded checkpoint object.
        arch: Model architecture name, for error messages.

    Raises:
        FileNotFoundError: The path does not exist.
        ValueError: Unknown layout or another variant (shapes listed).
    """
    if isinstance(checkpoint, str):
        from mmpat.compat import load_checkpoint_file

        checkpoint = load_checkpoint_file(checkpoint, map_location='cpu')
    state_dict = convert_groupvit_state_dict(checkpoint)
    check_groupvit_shapes(model, state_dict, arch)
    model.load_state_dict(state_dict, strict=False)


# A converted checkpoint file being loaded part by part (the backbone, the text encoder and the
# head of one config name the same file): converted once, each part's tensors removed as it
# takes them, dropped when empty or when another file is read.
_PART_CACHE: dict[tuple, dict[str, Tensor]] = {}


def _file_key(path: str) -> tuple:
    stat = osp.getsize(path), osp.getmtime(path)
    return (osp.realpath(path), *stat)


def groupvit_part_state_dict(checkpoint: str | Mapping, prefix: str) -> dict[str, Tensor]:
    """The tensors of one part of a GroupViT checkpoint (any supported layout), mmpat names
    without ``prefix``.

    Args:
        checkpoint: Local file path or a loaded checkpoint object.
        prefix: The part: ``'backbone.'``, ``'text_encoder.'`` or ``'decode_head.'``.

    Raises:
        FileNotFoundError: The path does not exist.
        ValueError: Unknown layout.
    """
    if not isinstance(checkpoint, str):
        state = convert_groupvit_state_dict(checkpoint)
        return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    from mmpat.compat import load_checkpoint_file

    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'GroupViT checkpoint {checkpoint!r} does not exist')
    key = _file_key(checkpoint)
    state = _PART_CACHE.get(key)
    if state is None or not any(k.startswith(prefix) for k in state):
        _PART_CACHE.clear()
        state = convert_groupvit_state_dict(load_checkpoint_file(checkpoint, map_location='cpu'))
        _PART_CACHE[key] = state
    part = {k[len(prefix) :]: state.pop(k) for k in list(state) if k.startswith(prefix)}
    if not state:
        _PART_CACHE.clear()
    return part


def load_groupvit_part(module: nn.Module, checkpoint: str | Mapping, prefix: str) -> None:
    """Load one part (backbone, text encoder or head) of a GroupViT checkpoint into ``module``.

    Args:
        module: The part (``GroupViT``, ``GroupViTTextEncoder``, ``GroupViTZeroShotHead``).
        checkpoint: Local file path or a loaded checkpoint object (released, HF or mmpat).
        prefix: The part's prefix in the mmpat layout (``'backbone.'``, ...).

    Raises:
        FileNotFoundError: The path does not exist.
        ValueError: Unknown layout, or weights of another variant (shapes listed).
    """
    part = groupvit_part_state_dict(checkpoint, prefix)
    source = repr(checkpoint) if isinstance(checkpoint, str) else 'the given checkpoint'
    what = f'the {prefix[:-1]} of {source}'
    try:
        check_groupvit_shapes(module, part, type(module).__name__, part=what)
    except ValueError:
        _PART_CACHE.clear()  # the build stops here: the other parts will not be read
        raise
    module.load_state_dict(part, strict=False)
