"""Segment an image with your own class names.

Example:
    python demo/image_demo.py demo/demo.png configs/maskclip/maskclip_vit-b16_zeroshot.py \
        --vocab "cat; dog, puppy; sky" --out out.png --device cpu
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mmpat  # noqa: E402,F401  (compat layer + registration)
from mmpat.apis import OpenVocabInferencer  # noqa: E402
from mmpat.compat import CheckpointError  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Open-vocabulary segmentation of one image')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', nargs='?', default=None, help='checkpoint (optional)')
    parser.add_argument(
        '--vocab',
        required=True,
        help='classes separated by ";", synonyms of a class by ",": "cat; dog, puppy; sky"',
    )
    parser.add_argument('--out', default='demo_out.png', help='overlay image to write')
    parser.add_argument('--device', default=None, help="'cpu', 'cuda', 'cuda:0' (default: auto)")
    parser.add_argument('--opacity', type=float, default=0.5, help='overlay opacity in [0, 1]')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        inferencer = OpenVocabInferencer(args.config, args.checkpoint, device=args.device)
        result = inferencer(args.img, args.vocab, out_file=args.out, opacity=args.opacity)
    except (FileNotFoundError, ValueError, CheckpointError) as error:
        sys.exit(f'error: {error}')
    shown = sorted(set(result['label_map'].ravel().tolist()))
    print(f'classes found: {", ".join(result["classes"][i] for i in shown)}')
    print(f'overlay written to {result["overlay"]}')


if __name__ == '__main__':
    main()
