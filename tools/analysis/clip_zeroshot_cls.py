"""Zero-shot classification of the dominant object of each scene with an exported CLIP.

Reports top-1 accuracy for images whose dominant class is seen and unseen, with chance level.

Example:
    python tools/analysis/clip_zeroshot_cls.py work_dirs/clip-tiny_scenes/clip_tiny.pth \
        --data data/scenes
"""

import argparse
import json

import mmpat  # noqa: F401  (compat layer)
from mmpat.apis.clip_export import load_clip_export
from mmpat.evaluation.clip_zeroshot import clip_zeroshot_dominant


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('weights', help='open_clip weights (.pth) with its .json preset sidecar')
    parser.add_argument('--data', default='data/scenes', help='scenes folder (meta.json, ...)')
    parser.add_argument('--split', default='val', help='labelled split to score')
    parser.add_argument('--template', default='a photo of a {}.', help='prompt with one {}')
    parser.add_argument('--preset', default=None, help='preset name (default: the sidecar)')
    parser.add_argument('--max-images', type=int, default=None, help='score only the first N')
    parser.add_argument('--json', action='store_true', help='print the result as JSON')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        model = load_clip_export(args.weights, preset=args.preset)
        result = clip_zeroshot_dominant(
            model,
            args.data,
            split=args.split,
            template=args.template,
            max_images=args.max_images,
        )
    except (FileNotFoundError, ValueError, KeyError) as err:
        raise SystemExit(f'error: {err}') from None
    if args.json:
        print(json.dumps(result))
        return
    print(f'zero-shot dominant-object classification on {args.data} [{args.split}]')
    print(f'  prompt {args.template!r}, {result["num_classes"]} candidate classes')
    print(f'  chance      {100 * result["chance"]:6.2f}%')
    print(f'  all         {100 * result["acc"]:6.2f}%  ({result["n"]} images)')
    print(f'  seen        {100 * result["acc_seen"]:6.2f}%  ({result["n_seen"]} images)')
    print(f'  unseen      {100 * result["acc_unseen"]:6.2f}%  ({result["n_unseen"]} images)')


if __name__ == '__main__':
    main()
