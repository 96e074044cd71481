"""Collect result files into mmseg model-zoo Markdown tables.

Example:
    python tools/test.py configs/dense_clip/dense-clip_vit-b16_zeroshot_ade20k-847.py \\
        --results results/dense-clip_a847.json
    python tools/analysis_tools/benchmark.py CONFIG --out results/dense-clip_speed.json
    python tools/leaderboard.py results/ --out leaderboard.md --title "mmpat on CPU"

Reads ``mmpat-results/1`` (tools/test.py --results), ``mmpat-benchmark/1``, ``mmpat-flops/1``,
``mmpat-efficiency/1`` and ``mmpat-refbench/1`` files, or directories of them (``*.json``).
Method and backbone come from ``configs/*/metafile.yaml`` (``--configs-dir``), else from the
config's folder and name. The logic is ``mmpat/evaluation/leaderboard.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Result files -> Markdown leaderboard')
    parser.add_argument('results', nargs='+', help='result JSON files or directories of them')
    parser.add_argument('--out', help='Markdown file to write (default: print it)')
    parser.add_argument('--title', default='Leaderboard', help='the page title')
    parser.add_argument(
        '--configs-dir',
        default=str(ROOT / 'configs'),
        help='folder whose */metafile.yaml name the methods (default: the repository configs/)',
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Importing mmpat applies its compatibility layer; the leaderboard itself needs no torch.
    from mmpat.evaluation.leaderboard import LeaderboardError, build_leaderboard

    try:
        text = build_leaderboard(args.results, args.configs_dir, args.title)
    except LeaderboardError as error:
        sys.exit(f'error: {error}')
    if args.out is None:
        sys.stdout.write(text)
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f'leaderboard written to {out}')


if __name__ == '__main__':
    main()
