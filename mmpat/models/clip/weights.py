"""Loading CLIP weights from a local file into open_clip's key layout.

Accepted files (``load_clip_state_dict`` tells them apart by content, not only by name):

- OpenAI ``.pt``: a TorchScript archive, read with ``torch.jit.load(map_location='cpu')`` and
  its ``state_dict()`` (OpenAI's key layout is open_clip's; fp16 weights become fp32);
- open_clip ``.bin`` / ``.pth`` state dicts (read with mmpat's safe ``torch.load``), possibly
  wrapped as ``{'state_dict': ...}`` or ``{'model': ...}`` and/or with a ``module.`` prefix;
- ``.safetensors``;
- exported mmpat/open_clip weights (``clip_tiny.pth`` + its ``clip_tiny.json`` preset sidecar;
  a sidecar that disagrees with the requested preset is an error);
- Hugging Face ``transformers`` ``CLIPModel`` state dicts (``vision_model.*``, ``text_model.*``),
  converted by :func:`convert_hf_clip_state_dict`.

Everything is checked against the preset's architecture: a file of another architecture fails
with the shapes that differ (and the preset it looks like); missing and unexpected keys are
listed with their likely cause.
"""

from __future__ import annotations

import json
import os.path as osp
import re
import warnings
from typing import Any

import torch

from mmpat.compat import load_checkpoint_file

from .presets import CLIP_PRESETS, get_clip_preset

# Non-weight entries of OpenAI's TorchScript archives (and traced open_clip models' masks).
_OPENAI_EXTRA_KEYS = ('input_resolution', 'context_length', 'vocab_size', 'attn_mask')
_WRAPPER_KEYS = ('state_dict', 'model', 'module', 'params')


def sidecar_path(weights_path: str) -> str:
    """The preset file next to a weights file: ``foo.pth`` -> ``foo.json``."""
    return osp.splitext(weights_path)[0] + '.json'


def _meta_state_shapes(preset: str | dict[str, Any]) -> dict[str, torch.Size]:
    """Key -> shape of ``open_clip.model.CLIP(**preset)``, built on the meta device (no memory)."""
    from open_clip.model import CLIP

    with torch.device('meta'):
        model = CLIP(**get_clip_preset(preset))
    return {k: v.shape for k, v in model.state_dict().items()}


def _read_file(path: str) -> Any:
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file

        try:
            return load_file(path, device='cpu')
        except Exception as error:  # safetensors raises its own error types
            raise ValueError(f'Cannot read safetensors file {path!r}: {error}') from None
    if path.endswith('.pt'):
        # OpenAI's releases are TorchScript archives; a plain torch.save .pt falls through.
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', FutureWarning)  # "torch.jit.load is deprecated"
                return torch.jit.load(path, map_location='cpu').state_dict()
        except RuntimeError:
            pass
    return load_checkpoint_file(path, map_location='cpu')


def _unwrap(obj: Any, path: str) -> dict[str, torch.Tensor]:
    for _ in range(3):
        if isinstance(obj, dict) and not any(torch.is_tensor(v) for v in obj.values()):
            inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f'{path!r} holds no state dict (got {type(obj).__name__}).')
    state = {k: v for k, v in obj.items() if torch.is_tensor(v)}
    if not state:
        raise ValueError(f'{path!r} holds no tensors (keys like {list(obj)[:3]}).')
    for prefix in ('module.', 'clip.'):
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def convert_hf_clip_state_dict(hf_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a ``transformers`` ``CLIPModel`` state dict to open_clip's layout.

    q/k/v projections are concatenated into ``in_proj_*``; the projections are transposed
    (HF stores them as ``nn.Linear`` weights, open_clip as matrices applied on the right).

    Args:
        hf_state: ``CLIPModel.state_dict()`` (ViT vision tower).

    Returns:
        dict: ``open_clip.model.CLIP`` state dict.

    Raises:
        KeyError: A key the mapping does not know (not a CLIPModel ViT state dict).
    """
    simple = {
        'vision_model.embeddings.class_embedding': 'visual.class_embedding',
        'vision_model.embeddings.patch_embedding.weight': 'visual.conv1.weight',
        'vision_model.embeddings.position_embedding.weight': 'visual.positional_embedding',
        'vision_model.pre_layrnorm.weight': 'visual.ln_pre.weight',
        'vision_model.pre_layrnorm.bias': 'visual.ln_pre.bias',
        'vision_model.post_layernorm.weight': 'visual.ln_post.weight',
        'vision_model.post_layernorm.bias': 'visual.ln_post.bias',
        'text_model.embeddings.token_embedding.weight': 'token_embedding.weight',
        'text_model.embeddings.position_embedding.weight': 'positional_embedding',
        'text_model.final_layer_norm.weight': 'ln_final.weight',
        'text_model.final_layer_norm.bias': 'ln_final.bias',
        'logit_scale': 'logit_scale',
    }
    layer_parts = {
        'layer_norm1': 'ln_1',
        'layer_norm2': 'ln_2',
        'mlp.fc1': 'mlp.c_fc',
        'mlp.fc2': 'mlp.c_proj',
        'self_attn.out_proj': 'attn.out_proj',
    }
    towers = {'vision_model': 'visual.transformer', 'text_model': 'transformer'}
    layer_re = re.compile(
        r'^(vision_model|text_model)\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$'
    )
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in hf_state.items():
        if key.endswith('position_ids'):
            continue  # a buffer of indices, not a weight
        if key in simple:
            out[simple[key]] = value
        elif key == 'visual_projection.weight':
            out['visual.proj'] = value.t().contiguous()
        elif key == 'text_projection.weight':
            out['text_projection'] = value.t().contiguous()
        elif match := layer_re.match(key):
            tower, idx, part, kind = match.groups()
            base = f'{towers[tower]}.resblocks.{idx}'
            if part in ('self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'):
                qkv.setdefault((base, kind), {})[part[-6]] = value
            elif part in layer_parts:
                out[f'{base}.{layer_parts[part]}.{kind}'] = value
            else:
                raise KeyError(f'unknown Hugging Face CLIP key {key!r}')
        else:
            raise KeyError(
                f'unknown Hugging Face CLIP key {key!r} (only ViT CLIPModel state dicts convert)'
            )
    for (base, kind), parts in qkv.items():
        if set(parts) != {'q', 'k', 'v'}:
            raise KeyError(f'{base}: incomplete q/k/v projections ({sorted(parts)})')
        out[f'{base}.attn.in_proj_{kind}'] = torch.cat([parts['q'], parts['k'], parts['v']])
    return out


def _is_hf_layout(state: dict[str, torch.Tensor]) -> bool:
    return any(k.startswith(('vision_model.', 'text_model.')) for k in state)


def guess_preset(state: dict[str, torch.Tensor]) -> str | None:
    """The name of the first preset whose every weight shape the state dict matches, if any."""
    for name in CLIP_PRESETS:
        shapes = _meta_state_shapes(name)
        if set(shapes) == set(state) and all(state[k].shape == s for k, s in shapes.items()):
            return name
    return None


def _check_sidecar(path: str, preset: str | dict[str, Any]) -> None:
    json_path = sidecar_path(path)
    if not osp.isfile(json_path):
        return
    try:
        with open(json_path) as f:
            stored = json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f'Cannot read the preset sidecar {json_path!r}: {error}') from None
    # Round-trip through JSON so tuples and lists compare equal.
    wanted = json.loads(json.dumps(get_clip_preset(preset)))
    if stored != wanted:
        diff = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        details = '; '.join(
            f'{k}: file {stored.get(k)!r} vs preset {wanted.get(k)!r}' for k in diff
        )
        raise ValueError(
            f'{path!r} was exported for another architecture than the preset {preset!r} '
            f"(sidecar {json_path!r}): {details}. Set the config preset to the sidecar's "
            '(a preset may be given as a dict).'
        )


def _likely_cause(missing: list[str], unexpected: list[str]) -> str:
    if missing and all(k.startswith('visual.') for k in missing):
        return 'the file has no image tower (a text-only export?)'
    if missing and not any(k.startswith('visual.') for k in missing):
        return 'the file has no text tower (an image-tower-only export?)'
    if unexpected and all(k.startswith('visual.') for k in unexpected):
        return 'the image tower has extra blocks or parts (a deeper/other vision variant?)'
    if unexpected:
        return 'the file holds weights this preset does not have (another CLIP variant?)'
    return 'an incomplete file'


def read_clip_file(path: str) -> dict[str, torch.Tensor]:
    """Read any supported CLIP weights file into open_clip's key layout (no preset check).

    Args:
        path: Local weights file (see the module docstring for the formats).

    Returns:
        dict: open_clip-layout state dict (floating tensors as float32).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Unreadable file or no state dict in it.
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'CLIP weights file {path!r} not found. Give a local OpenAI .pt, open_clip '
            '.bin/.safetensors or a file converted with tools/model_converters/clip2mmpat.py '
            'as `pretrained=`, or pretrained=None for random weights.'
        )
    state = _unwrap(_read_file(path), path)
    if _is_hf_layout(state):
        state = convert_hf_clip_state_dict(state)
    for key in _OPENAI_EXTRA_KEYS:
        state.pop(key, None)
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def load_clip_state_dict(path: str, preset: str | dict[str, Any]) -> dict[str, torch.Tensor]:
    """Read CLIP weights from a local file and check them against a preset.

    Args:
        path: Local weights file (see the module docstring for the formats).
        preset: Preset name or dict the weights must fit.

    Returns:
        dict: open_clip-layout state dict (float32 CPU tensors). Keys the preset lacks are
        dropped (with a warning); keys it has but the file lacks are absent (with a warning);
        the consumers (backbone, text encoder) require the keys of their own tower.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Unreadable file, sidecar preset mismatch, no CLIP key at all, or weights
            of another shape than the preset (the message lists them and a preset that fits).
    """
    path = osp.expanduser(str(path))
    if osp.isfile(path):
        _check_sidecar(path, preset)
    state = read_clip_file(path)
    shapes = _meta_state_shapes(preset)
    common = set(state) & set(shapes)
    if not common:
        raise ValueError(
            f"No key of {path!r} is a CLIP weight of open_clip's layout ({len(state)} keys, "
            f'e.g. {sorted(state)[:4]}): not a CLIP weights file, or a layout mmpat does not '
            'convert (see tools/model_converters/clip2mmpat.py).'
        )
    wrong = [
        f'{k}: file {tuple(state[k].shape)} vs preset {tuple(shapes[k])}'
        for k in sorted(common)
        if state[k].shape != shapes[k]
    ]
    if wrong:
        looks_like = guess_preset(state)
        hint = f' It fits the preset {looks_like!r}.' if looks_like else ''
        raise ValueError(
            f'{path!r} holds weights of another architecture than the preset {preset!r}: '
            f'{len(wrong)} shapes differ, e.g. ' + '; '.join(wrong[:5]) + '.' + hint
        )
    missing = sorted(set(shapes) - set(state))
    unexpected = sorted(set(state) - set(shapes))
    if missing or unexpected:
        warnings.warn(
            f'CLIP weights {path!r} vs preset {preset!r}: {len(missing)} missing keys '
            f'{missing[:5]}, {len(unexpected)} unexpected keys {unexpected[:5]} (dropped); '
            f'likely cause: {_likely_cause(missing, unexpected)}.',
            stacklevel=2,
        )
    return {k: v for k, v in state.items() if k in shapes}


def load_clip_tower(
    module: torch.nn.Module,
    state: dict[str, torch.Tensor],
    *,
    prefix: str,
    path: str,
    skip: tuple[str, ...] = (),
) -> None:
    """Load the keys of one tower (``prefix``) into ``module``, strictly.

    Args:
        module: The tower (its ``state_dict`` keys equal the file's keys minus ``prefix``).
        state: open_clip-layout state dict (from :func:`load_clip_state_dict`).
        prefix: Key prefix of the tower in the file (``'visual.'``, or ``''`` for the text
            tower whose keys sit at the top level).
        path: The file (for messages).
        skip: Top-level keys to ignore (e.g. the other tower's).

    Raises:
        ValueError: Weights of the tower missing from the file.
    """
    part = {
        k[len(prefix) :]: v
        for k, v in state.items()
        if k.startswith(prefix) and not k.startswith(skip)
    }
    own = module.state_dict()
    missing = sorted(set(own) - set(part))
    if missing:
        raise ValueError(
            f'{path!r} lacks {len(missing)} weights of the {type(module).__name__} '
            f'(e.g. {[prefix + k for k in missing[:4]]}): the file holds another tower or is '
            'incomplete.'
        )
    module.load_state_dict({k: part[k] for k in own}, strict=True)
