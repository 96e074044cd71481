"""Segment an image of your own with your own class names.

Give the path of any image (IMG below); the overlay is written to ``--out``. Examples:

    # training-free dense CLIP on the tiny scenes CLIP (weights from `make demo`)
    python demo/image_demo.py IMG configs/dense_clip/dense-clip_vit-scenes-tiny_scenes.py \
        --vocab "background; red circle; blue square" --out out.png --device cpu
    # GroupViT-S with a checkpoint converted by tools/model_converters/groupvit2mmpat.py and
    # stored anywhere: the checkpoint argument replaces the config's `pretrained` file
    python demo/image_demo.py IMG configs/groupvit/groupvit-s_gcc-yfcc_zeroshot_voc.py \
        /path/to/groupvit-s_gcc-yfcc_mmpat.pth --vocab "background; cat; dog, puppy" \
        --cfg-options model.test_cfg.mode=whole --device cpu

``--cfg-options key=value ...`` overrides config entries (as in tools/test.py), e.g. the CLIP
weights of a dense-CLIP config: ``model.backbone.pretrained=W model.text_encoder.pretrained=W``.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmengine.config import DictAction  # noqa: E402

import mmpat  # noqa: E402,F401  (compat layer + registration)
from mmpat.apis import OpenVocabInferencer  # noqa: E402
from mmpat.compat import CheckpointError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Open-vocabulary segmentation of one image')
    parser.add_argument('img', help='your image file')
    parser.add_argument('config', help='model config file')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        default=None,
        help="segmentor checkpoint (optional); when given, the config's model.pretrained is "
        'not read',
    )
    parser.add_argument(
        '--vocab',
        required=True,
        help='classes separated by ";", synonyms of a class by ",": "cat; dog, puppy; sky"',
    )
    parser.add_argument('--out', default='demo_out.png', help='overlay image to write')
    parser.add_argument('--device', default=None, help="'cpu', 'cuda', 'cuda:0' (default: auto)")
    parser.add_argument('--opacity', type=float, default=0.5, help='overlay opacity in [0, 1]')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default=None,
        help='override config entries, key=value (e.g. model.test_cfg.mode=whole)',
    )
    return parser.parse_args(argv)


def cfg_options_of(args: argparse.Namespace) -> dict:
    """The config overrides: ``--cfg-options``, and with a checkpoint no ``model.pretrained``
    (the checkpoint holds the weights: e.g. GroupViT's released file need not exist)."""
    options = dict(args.cfg_options or {})
    if args.checkpoint is not None:
        options['model.pretrained'] = None
    return options


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        inferencer = OpenVocabInferencer(
            args.config, args.checkpoint, device=args.device, cfg_options=cfg_options_of(args)
        )
        result = inferencer(args.img, args.vocab, out_file=args.out, opacity=args.opacity)
    except (FileNotFoundError, ValueError, CheckpointError) as error:
        sys.exit(f'error: {error}')
    shown = sorted(set(result['label_map'].ravel().tolist()))
    print(f'classes found: {", ".join(result["classes"][i] for i in shown)}')
    print(f'overlay written to {result["overlay"]}')


if __name__ == '__main__':
    main()
