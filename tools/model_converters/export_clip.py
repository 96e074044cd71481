"""Export a CLIPContrastive training checkpoint to open_clip's weights layout.

Writes OUT.pth (the ``open_clip.model.CLIP`` state dict, plain tensors) and OUT.json (its
preset: ``open_clip.model.CLIP`` keyword arguments), atomically. No vocabulary is written
(CLIP tower weights, not a segmentor checkpoint: see :mod:`mmpat.apis.clip_export`).

Example:
    python tools/model_converters/export_clip.py \
        work_dirs/clip-tiny_scenes/iter_600.pth work_dirs/clip-tiny_scenes/clip_tiny.pth
"""

import argparse

import mmpat  # noqa: F401  (compat layer: safe checkpoint loading)
from mmpat.apis.clip_export import open_clip_state_dict, save_clip_weights
from mmpat.compat import load_checkpoint_file


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('checkpoint', help='runner checkpoint of a CLIPContrastive model')
    parser.add_argument('out', help='output weights path (.pth); the preset goes to .json')
    parser.add_argument(
        '--preset',
        default=None,
        help='CLIP preset name (default: model.preset of the config stored in the checkpoint)',
    )
    return parser.parse_args()


def preset_from_meta(meta: dict):
    """The ``model.preset`` of the config text mmengine stores in ``meta['cfg']``."""
    from mmengine.config import Config

    text = meta.get('cfg') if isinstance(meta, dict) else None
    if not text:
        return None
    cfg = Config.fromstring(text, file_format='.py')
    return cfg.get('model', {}).get('preset', 'ViT-scenes-tiny')


def main() -> None:
    args = parse_args()
    if not args.out.endswith('.pth'):
        raise SystemExit(f'error: OUT must end with .pth, got {args.out}')
    try:
        loaded = load_checkpoint_file(args.checkpoint, map_location='cpu')
        state = loaded.get('state_dict', loaded)
        preset = args.preset or preset_from_meta(loaded.get('meta', {}))
        if preset is None:
            raise ValueError(
                f'{args.checkpoint} stores no config; give the preset with --preset NAME'
            )
        if hasattr(preset, 'to_dict'):
            preset = preset.to_dict()
        weights, sidecar = save_clip_weights(open_clip_state_dict(state), preset, args.out)
    except (FileNotFoundError, KeyError, ValueError, RuntimeError) as err:
        raise SystemExit(f'error: {err}') from None
    print(f'wrote {weights} and {sidecar}')


if __name__ == '__main__':
    main()
