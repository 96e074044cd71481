"""Convert CLIP weights to a plain open_clip-layout state dict for mmpat.

Reads an OpenAI ``.pt`` (TorchScript archive), an open_clip ``.bin``/``.pth``/``.safetensors``
or a Hugging Face ``transformers`` ``CLIPModel`` (a ``model.safetensors`` /
``pytorch_model.bin`` file, or its folder) and writes:

- ``DST`` (``.pth``): the ``open_clip.model.CLIP`` state dict (float32 tensors only; loads with
  ``torch.load(DST, weights_only=True)`` and as mmpat's ``pretrained=``);
- ``DST`` with ``.json``: the preset (``open_clip.model.CLIP`` keyword arguments);
- ``DST.sha256``: the weights file's SHA-256 (``sha256sum -c`` format).

No vocabulary (``meta.dataset_meta``) is written: these are CLIP tower weights for the
``pretrained=`` of a config's backbone and text encoder, not a segmentor checkpoint (see
:mod:`mmpat.apis.clip_export`); the segmentor takes the classes of its config's test dataset.

Example::

    python tools/model_converters/clip2mmpat.py ViT-B-16.pt checkpoints/clip_vit-b16.pth
    python tools/model_converters/clip2mmpat.py hf_clip/ clip.pth --preset ViT-B-16
"""

from __future__ import annotations

import argparse
import hashlib
import os.path as osp
import sys

from mmpat.apis.clip_export import save_clip_weights
from mmpat.models.clip.presets import CLIP_PRESETS
from mmpat.models.clip.weights import guess_preset, load_clip_state_dict, read_clip_file

HF_FILES = ('model.safetensors', 'pytorch_model.bin', 'open_clip_model.safetensors')


def _resolve_source(src: str) -> str:
    if osp.isdir(src):
        for name in HF_FILES:
            if osp.isfile(osp.join(src, name)):
                return osp.join(src, name)
        raise FileNotFoundError(f'{src!r} is a folder without any of {HF_FILES}')
    if not osp.isfile(src):
        raise FileNotFoundError(f'source weights {src!r} not found')
    return src


def sha256_of(path: str) -> str:
    """The hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def convert(src: str, dst: str, preset: str | None = None, force: bool = False) -> dict:
    """Convert ``src`` to ``dst`` (+ ``.json`` preset and ``.sha256``).

    Args:
        src: Source weights file or Hugging Face folder.
        dst: Output ``.pth`` path.
        preset: Preset name (default: the preset whose shapes the weights fit).
        force: Overwrite an existing ``dst``.

    Returns:
        dict: ``weights``, ``preset_file``, ``sha256_file``, ``sha256``, ``preset``.

    Raises:
        FileExistsError: ``dst`` exists and ``force`` is False.
        ValueError: No preset fits the weights (or the given one does not).
    """
    src = _resolve_source(src)
    if osp.exists(dst) and not force:
        raise FileExistsError(f'{dst!r} exists; pass --force to overwrite it')
    if preset is None:
        preset = guess_preset(read_clip_file(src))
        if preset is None:
            raise ValueError(
                f'the weights of {src!r} fit no known preset ({", ".join(CLIP_PRESETS)}); '
                'pass --preset'
            )
    state = load_clip_state_dict(src, preset)
    weights, preset_file = save_clip_weights(state, preset, dst)
    checksum = sha256_of(weights)
    sha_file = weights + '.sha256'
    with open(sha_file, 'w') as f:
        f.write(f'{checksum}  {osp.basename(weights)}\n')
    return dict(
        weights=weights,
        preset_file=preset_file,
        sha256_file=sha_file,
        sha256=checksum,
        preset=preset,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='OpenAI .pt, open_clip .bin/.safetensors, or HF CLIPModel')
    parser.add_argument('dst', help='output .pth (the .json preset and .sha256 go next to it)')
    parser.add_argument(
        '--preset', default=None, choices=list(CLIP_PRESETS), help='default: inferred from shapes'
    )
    parser.add_argument('--force', action='store_true', help='overwrite an existing output')
    args = parser.parse_args(argv)
    try:
        out = convert(args.src, args.dst, args.preset, args.force)
    except (FileNotFoundError, FileExistsError, ValueError, KeyError) as error:
        print(f'clip2mmpat: error: {error}', file=sys.stderr)
        return 1
    print(
        f'preset {out["preset"]!r}: wrote {out["weights"]}, {out["preset_file"]}, '
        f'{out["sha256_file"]} (sha256 {out["sha256"][:16]}...)'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
