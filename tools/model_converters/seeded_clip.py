"""Compact CLIP files for VLMs trained against a text tower frozen at a seeded init.

``pack`` turns an open_clip export (``.pth`` + ``.json`` preset sidecar) into a compact file: the
trained tensors (image tower, temperature), the text tower's seed and a fingerprint of the full
weights (1.5 MB instead of 30 for the scenes VLM). ``unpack`` rebuilds the export and refuses
it unless it is bit for bit the trained model. ``check`` tells whether an export (e.g. a fresh
``tools/train.py`` run) is bit for bit the model of a compact file. See
:mod:`mmpat.apis.seeded_clip`.

Examples:
    python tools/model_converters/seeded_clip.py pack \
        work_dirs/clip-tiny_scenes/clip_tiny.pth weights/clip-tiny_scenes.seeded.pth --seed 0
    python tools/model_converters/seeded_clip.py unpack \
        weights/clip-tiny_scenes.seeded.pth work_dirs/clip-tiny_scenes/clip_tiny.pth
    python tools/model_converters/seeded_clip.py check \
        weights/clip-tiny_scenes.seeded.pth work_dirs/clip-tiny_scenes/clip_tiny.pth
"""

import argparse
import json
import os.path as osp
import sys

import torch

import mmpat  # noqa: F401
from mmpat.apis.seeded_clip import pack_seeded_clip, read_compact, unpack_seeded_clip_to
from mmpat.models.clip.seeded_text import state_fingerprint
from mmpat.models.clip.weights import sidecar_path


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    pack = sub.add_parser('pack', help='export -> compact file')
    pack.add_argument('export', help='open_clip weights (.pth) with its .json preset sidecar')
    pack.add_argument('out', help='compact file to write')
    pack.add_argument('--seed', type=int, required=True, help='the text tower init seed')
    unpack = sub.add_parser('unpack', help='compact file -> export (.pth + .json)')
    unpack.add_argument('compact', help='compact file')
    unpack.add_argument('out', help='open_clip weights path to write (.pth)')
    check = sub.add_parser('check', help='is an export bit for bit the compact file model?')
    check.add_argument('compact', help='compact file')
    check.add_argument('export', help='open_clip weights (.pth)')
    return parser.parse_args(argv)


def _read_export(path: str) -> tuple[dict, dict]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'open_clip weights {path} not found')
    json_path = sidecar_path(path)
    if not osp.isfile(json_path):
        raise FileNotFoundError(f'preset sidecar {json_path} not found next to {path}')
    with open(json_path) as f:
        preset = json.load(f)
    return torch.load(path, map_location='cpu', weights_only=True), preset


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.command == 'pack':
            state, preset = _read_export(args.export)
            compact = pack_seeded_clip(state, preset, args.seed, args.out)
            size = osp.getsize(args.out) / 2**20
            print(f'wrote {args.out} ({size:.1f} MB, fingerprint {compact["fingerprint"][:12]})')
        elif args.command == 'unpack':
            if not args.out.endswith('.pth'):
                raise ValueError(f'OUT must end with .pth, got {args.out}')
            weights, sidecar = unpack_seeded_clip_to(args.compact, args.out)
            print(f'wrote {weights} and {sidecar} (fingerprint verified)')
        else:
            expected = read_compact(args.compact)['fingerprint']
            state = torch.load(args.export, map_location='cpu', weights_only=True)
            found = state_fingerprint(state)
            same = found == expected
            verdict = 'bit for bit the same' if same else 'DIFFERENT'
            print(f'{args.export}: {verdict} ({found[:12]} vs {expected[:12]} of {args.compact})')
            return 0 if same else 1
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
