"""The scenes leaderboard: every method on the offline benchmark, with speed and parameters.

1. the main job (``tools/run_offline_benchmark.py``) with GroupViT, every row written as an
   ``mmpat-results/1`` file (trivial, dense CLIP, PAT baseline, PAT, MVP-SEG, MVP-SEG+, GroupViT);
2. the training-free dense-CLIP variants of ViT CLIPs (MaskCLIP, SCLIP, ClearCLIP, NACLIP,
   NACLIP + PAMR) on ``val``, with the tiny ViT CLIP of ``configs/clip/clip-vit-tiny_scenes.py``
   (pretrained here if absent; the main job's scenes VLM is a ResNet, which these variants,
   changes of a ViT block, do not apply to);
3. per config: inference speed and peak memory (``tools/analysis_tools/benchmark.py``) and
   FLOPs / parameters (``get_flops.py``) at the scenes' size;
4. optionally (``--reference``) the reference comparisons of ``tools/benchmarks/`` (tiny sizes);
5. ``tools/leaderboard.py`` over all of it: ``<work-dir>/leaderboard.md``.

Every step reuses what exists (scenes, CLIP weights, trained checkpoints), so a second run only
re-measures. Arguments it does not know go to the main job (sizes and iterations of a smaller
run, e.g. ``--num-val 6 --clip-iters 4``).

Usage:
    python tools/run_leaderboard.py [--work-dir work_dirs/leaderboard] [--threads 1]
        [--repeat 10] [--reference] [main-job arguments...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VIT_CLIP_CONFIG = ROOT / 'configs/clip/clip-vit-tiny_scenes.py'
TRAINING_FREE = {
    'dense_clip_vit': 'configs/dense_clip/dense-clip_vit-scenes-tiny_scenes.py',
    'sclip': 'configs/sclip/sclip_vit-scenes-tiny_scenes.py',
    'clearclip': 'configs/clearclip/clearclip_vit-scenes-tiny_scenes.py',
    'naclip': 'configs/naclip/naclip_vit-scenes-tiny_scenes.py',
    'naclip_pamr': 'configs/naclip/naclip-pamr_vit-scenes-tiny_scenes.py',
}
SCENES_SHAPE = ('96', '96')


def load_main_job():
    """``tools/run_offline_benchmark.py`` as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        'run_offline_benchmark', ROOT / 'tools/run_offline_benchmark.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/leaderboard', help='outputs')
    parser.add_argument('--threads', type=int, default=1, help='torch threads of the speed runs')
    parser.add_argument('--repeat', type=int, default=10, help='timed calls per config')
    parser.add_argument(
        '--reference', action='store_true', help='also the tools/benchmarks/ comparisons (tiny)'
    )
    parser.add_argument(
        '--vit-clip-dir',
        default='work_dirs/clip-vit-tiny_scenes',
        help='work dir of the tiny ViT CLIP (trained there if its clip_tiny.pth is absent)',
    )
    return parser.parse_known_args(argv)


def test_training_free(job, results: Path, work: Path, weights: Path, data: str) -> None:
    """The ViT dense-CLIP variants on ``val``, with the tiny ViT CLIP and the main job's scenes."""
    for key, config in TRAINING_FREE.items():
        job.run_tool(
            ['tools/test.py', config, '--work-dir', str(work / key),
             '--results', str(results / f'{key}.json'), '--cfg-options',
             f'model.backbone.pretrained={weights}', f'model.text_encoder.pretrained={weights}',
             f'test_dataloader.dataset.data_root={data}']
        )  # fmt: skip


def measure_costs(job, results: Path, threads: int, repeat: int, data: str) -> None:
    """Speed, memory, FLOPs and parameters of every config that has a results file (the
    vocabulary: the scenes' classes at ``data``, where the main job generated them)."""
    for path in sorted(results.glob('*.json')):
        record = json.loads(path.read_text())
        if record.get('format') != 'mmpat-results/1' or not Path(ROOT / record['config']).is_file():
            continue  # the trivial baseline has no model
        checkpoint = [record['checkpoint']] if record.get('checkpoint') else []
        stem = path.stem
        scenes = ['--cfg-options', f'test_dataloader.dataset.data_root={data}']
        job.run_tool(
            ['tools/analysis_tools/benchmark.py', record['config'], *checkpoint,
             '--shape', *SCENES_SHAPE, '--threads', str(threads), '--repeat', str(repeat),
             '--out', str(results / f'{stem}.speed.json'), *scenes]
        )  # fmt: skip
        job.run_tool(
            ['tools/analysis_tools/get_flops.py', record['config'], '--shape', *SCENES_SHAPE,
             '--out', str(results / f'{stem}.flops.json'), *scenes]
        )  # fmt: skip


def reference_benchmarks(job, results: Path, threads: int) -> None:
    """The reference comparisons at tiny sizes (their ``--out`` JSON, if they write one)."""
    for name, args in (
        (
            'bench_clip',
            [
                '--sizes',
                '224',
                '--batches',
                '1',
                '--repeats',
                '2',
                '--text-classes',
                '10',
                '--text-repeats',
                '1',
            ],
        ),  # fmt: skip
        ('bench_groupvit', ['--repeats', '2', '--batch', '1', '--skip-slide']),
    ):
        job.run_tool(
            [f'tools/benchmarks/{name}.py', *args, '--threads', str(threads),
             '--out', str(results / f'{name}.refbench.json')]
        )  # fmt: skip


def main(argv: list[str] | None = None) -> Path:
    args, main_args = parse_args(argv)
    job = load_main_job()
    work = ROOT / args.work_dir
    results = work / 'results'
    results.mkdir(parents=True, exist_ok=True)
    started = time.time()
    job.main([*main_args, '--groupvit', '--work-dir', str(work / 'main'),
              '--results-dir', str(results)])  # fmt: skip
    summary = json.loads((work / 'main' / 'summary.json').read_text())
    job.step('leaderboard: tiny ViT CLIP for the ViT-only training-free variants')
    data = summary['scenes']['path']
    clip_iters = job.parse_args(main_args).clip_iters  # a smaller run's, for this CLIP too
    vit_weights = job.pretrain_clip(VIT_CLIP_CONFIG, ROOT / args.vit_clip_dir, data, clip_iters)
    job.step('leaderboard: training-free dense-CLIP variants of the ViT CLIP (val)')
    test_training_free(job, results, work / 'training_free', vit_weights, data)
    job.step('leaderboard: speed, memory, FLOPs and parameters per config')
    measure_costs(job, results, args.threads, args.repeat, summary['scenes']['path'])
    if args.reference:
        job.step('leaderboard: reference comparisons')
        reference_benchmarks(job, results, args.threads)
    from mmpat.evaluation.leaderboard import build_leaderboard

    minutes = (time.time() - started) / 60
    title = f'mmpat on the generated scenes (CPU, {minutes:.0f} min)'
    board = work / 'leaderboard.md'
    board.write_text(build_leaderboard([results], ROOT / 'configs', title))
    print(board.read_text())
    print(f'leaderboard: {board}')
    return board


if __name__ == '__main__':
    main()
