"""The main job: the offline open-vocabulary benchmark on generated scenes, end to end.

1. generate the scenes (``data/scenes``; skipped when present with the same arguments);
2. pretrain the tiny CLIP on the scene captions if its weights are absent;
3. report the tiny CLIP's zero-shot classification accuracy (seen / unseen);
4. evaluate the training-free dense-CLIP segmentor on ``val`` (mIoU all/seen/unseen, hIoU),
   next to the trivial baseline (the most frequent class, background, everywhere);
5. write an overlay of a validation image segmented with the scenes' vocabulary;
6. train PAT and its baseline (no tokenizer, no pixel branch) on the seen classes of ``train``
   with the same seed and schedule (if their checkpoints are absent; ``--no-pat`` skips it),
   evaluate both on ``val`` and draw the tokenizer's token maps of a validation image;
7. train MVP-SEG's prompts on the seen classes of ``train`` (``--no-mvp-seg`` skips it), then
   MVP-SEG+: a DeepLab student trained transductively on ``pretrain`` images whose unseen
   pixels are unlabelled, with the MVP-SEG prompts as its classifier and pseudo-labels from
   MVP-SEG then from itself (``--no-mvp-seg-plus`` skips it); evaluate both on ``val``;
8. with ``--groupvit``: train GroupViT-tiny from the captions only (if its checkpoint is absent;
   ``--groupvit-config``, default the grounded 3000-iteration recipe, about 25 minutes on 2
   cores; ``projects/groupvit_scenes/configs/groupvit-tiny_scenes-captions.py`` takes about 8)
   and evaluate its zero-shot segmentation on ``val``.

Usage:
    python tools/run_offline_benchmark.py [--data data/scenes]
        [--work-dir work_dirs/offline_benchmark] [--no-pat] [--pat-iters N]
        [--no-mvp-seg] [--no-mvp-seg-plus] [--mvp-seg-iters N] [--mvp-seg-plus-iters N]
        [--groupvit [--groupvit-config CONFIG]]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLIP_CONFIG = ROOT / 'configs/clip/clip-tiny_scenes.py'
# The scenes VLM as shipped: the compact file of CLIP_CONFIG's run (image tower + the text
# tower's seed, 1.5 MB; `tools/model_converters/seeded_clip.py`), unpacked bit for bit.
CLIP_SHIPPED = ROOT / 'weights/clip-tiny_scenes.seeded.pth'
DENSE_CLIP_CONFIG = ROOT / 'configs/dense_clip/dense-clip_clip-tiny_scenes.py'
GROUPVIT_CONFIG = 'projects/groupvit_scenes/configs/groupvit-tiny_scenes-captions_grounded-3k.py'
PAT_CONFIGS = {
    'pat': 'configs/pat/pat_clip-tiny_scenes.py',
    'pat_baseline': 'configs/pat/pat-baseline_clip-tiny_scenes.py',
}
MVP_SEG_CONFIGS = {
    'mvp_seg': 'configs/mvp_seg/mvp-seg_clip-tiny_scenes.py',
    'mvp_seg_plus': 'configs/mvp_seg/mvp-seg-plus_clip-tiny-d8_scenes.py',
}
KEYS = ('mIoU', 'mIoU_seen', 'mIoU_unseen', 'hIoU')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default='data/scenes', help='scenes folder')
    parser.add_argument('--clip-dir', default='work_dirs/clip-tiny_scenes', help='tiny CLIP dir')
    parser.add_argument('--work-dir', default='work_dirs/offline_benchmark', help='outputs')
    parser.add_argument('--seed', type=int, default=0, help='scene generator seed')
    # Smaller runs (smoke tests, a quick look): fewer scenes and pretraining iterations.
    parser.add_argument('--num-pretrain', type=int, default=None, help='pretrain images')
    parser.add_argument('--num-train', type=int, default=None, help='train images')
    parser.add_argument('--num-val', type=int, default=None, help='val images')
    parser.add_argument('--clip-iters', type=int, default=None, help='tiny CLIP iterations')
    parser.add_argument(
        '--train-clip',
        action='store_true',
        help='pretrain the tiny CLIP (about 15 min on one core) instead of unpacking the '
        'shipped weights (implied by --clip-iters)',
    )
    parser.add_argument('--no-pat', action='store_true', help='skip PAT and its baseline')
    parser.add_argument('--pat-iters', type=int, default=None, help='PAT training iterations')
    parser.add_argument(
        '--train-dir',
        '--pat-dir',
        dest='train_dir',
        default='work_dirs',
        help='parent of the work dirs of the trained methods (PAT, MVP-SEG)',
    )
    parser.add_argument('--no-mvp-seg', action='store_true', help='skip MVP-SEG and MVP-SEG+')
    parser.add_argument('--no-mvp-seg-plus', action='store_true', help='skip MVP-SEG+ only')
    parser.add_argument('--mvp-seg-iters', type=int, default=None, help='MVP-SEG iterations')
    parser.add_argument(
        '--mvp-seg-plus-iters', type=int, default=None, help='MVP-SEG+ student iterations'
    )
    parser.add_argument('--groupvit', action='store_true', help='also train and test GroupViT')
    parser.add_argument('--groupvit-config', default=GROUPVIT_CONFIG, help='GroupViT config')
    parser.add_argument(
        '--groupvit-dir', default=None, help='its work dir (default: work_dirs/CONFIG_NAME)'
    )
    parser.add_argument('--groupvit-iters', type=int, default=None, help='GroupViT iterations')
    parser.add_argument(
        '--verbose', action='store_true', help="stream the tools' full logs (default: to files)"
    )
    parser.add_argument(
        '--threads', type=int, default=None, help='torch threads per process (default: cores/2)'
    )
    parser.add_argument(
        '--jobs',
        type=int,
        default=None,
        help='trainings run side by side (PAT, its baseline, MVP-SEG; default: cores / threads)',
    )
    parser.add_argument(
        '--results-dir',
        default=None,
        help='also write an mmpat-results/1 file per row here (tools/leaderboard.py reads them)',
    )
    return parser.parse_args(argv)


def step(title: str) -> float:
    print(f'\n=== {title} ===', flush=True)
    return time.time()


# Where the tools' full logs go (set by ``configure_output``); None: streamed to the console.
LOG_DIR: Path | None = None
# Tools running side by side print whole lines only (one lock keeps the lines apart).
_PRINT_LOCK = threading.Lock()
_PARALLEL = threading.local()


def default_threads() -> int:
    """Torch threads per process: half the cores (at least 1). A training process has
    dataloader workers beside it; with more OpenMP threads than free cores the threads wait
    for each other (a step was measured 10-20x slower on a shared 2-core machine)."""
    return max(1, (os.cpu_count() or 1) // 2)


def configure_output(log_dir: Path | None, threads: int | None) -> int:
    """Send the tools' logs to ``log_dir`` (None: the console) and fix the thread count of
    this process and of every tool it runs (``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` given
    by the user win). Returns the thread count."""
    global LOG_DIR
    LOG_DIR = log_dir
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
    threads = int(os.environ.get('OMP_NUM_THREADS') or threads or default_threads())
    for name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ.setdefault(name, str(threads))
    import torch

    torch.set_num_threads(threads)
    return threads


@contextmanager
def quiet():
    """In-process library calls (metrics, inference) without their log tables and warnings:
    the job's console shows its own lines; the tools' full logs are in the log folder."""
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)  # mmengine warns once per metric without a prefix
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            yield
    finally:
        logger.setLevel(level)


def _summary_line(log: str) -> str:
    """The last metrics line of a test log, or the last iteration line of a training log."""
    for marker in ('mIoU:', 'Iter(train)'):
        lines = [line for line in log.splitlines() if marker in line]
        if lines:
            fields = lines[-1].split('  ')
            keep = ('mIoU', 'hIoU', 'loss:', 'Iter(train)')
            return '  '.join(f.strip() for f in fields if f.strip().startswith(keep))
    return ''


def run_tool(args: list[str]) -> None:
    """Run a repository tool (``tools/...py`` and its arguments) with this interpreter.

    With a log folder (the default), its output goes to ``<log dir>/<tool>_<config>.log`` and
    one line reports it; a failure prints the log's end and stops the job.
    """
    command = [sys.executable, *args]
    if LOG_DIR is None:
        print('$', ' '.join(command), flush=True)
        subprocess.run(command, cwd=ROOT, check=True)
        return
    tool = Path(args[0]).stem
    subject = Path(args[1]).stem if len(args) > 1 and not args[1].startswith('-') else ''
    log = LOG_DIR / (f'{tool}_{subject}.log' if subject else f'{tool}.log')
    parallel = getattr(_PARALLEL, 'on', False)
    name = f'{tool} {subject}'.strip()
    with _PRINT_LOCK:
        if parallel:  # whole lines: other tools print theirs meanwhile
            print(f'  {name} started', flush=True)
        else:
            print(f'  {name} ...', end=' ', flush=True)
    started = time.time()
    with open(log, 'w') as stream:
        stream.write('$ ' + ' '.join(command) + '\n')
        stream.flush()
        done = subprocess.run(command, cwd=ROOT, stdout=stream, stderr=subprocess.STDOUT)
    text = log.read_text(errors='replace')
    head = f'  {name}: ' if parallel else ''
    if done.returncode != 0:
        with _PRINT_LOCK:
            print(head + 'FAILED')
            print('\n'.join(text.splitlines()[-40:]), flush=True)
        raise SystemExit(f'error: {name} failed (exit {done.returncode}); log: {log}')
    summary = _summary_line(text)
    with _PRINT_LOCK:
        line = f'{time.time() - started:.0f} s' + (f'  [{summary}]' if summary else '')
        print(head + line, flush=True)


def latest_metrics(work_dir: Path) -> dict:
    """The metrics mmengine wrote for the last test run in ``work_dir``."""
    runs = sorted(p for p in work_dir.iterdir() if p.is_dir() and (p / f'{p.name}.json').is_file())
    if not runs:
        raise FileNotFoundError(f'no metrics json under {work_dir}')
    return json.loads((runs[-1] / f'{runs[-1].name}.json').read_text())


def schedule_options(config: Path, iters: int) -> list[str]:
    """``--cfg-options`` that run ``config`` for ``iters`` iterations, its schedule scaled.

    ``train_cfg.max_iters`` and every iteration-based ``param_scheduler`` entry (``begin``,
    ``end``, ``T_max``) are rescaled by ``iters / max_iters``, so a shorter run keeps its
    warm-up share and decays to the end (each phase keeps at least one iteration).
    """
    from mmpat.utils.projects import load_config_file

    cfg = load_config_file(str(config))
    total = int(cfg.train_cfg.max_iters)
    options = [f'train_cfg.max_iters={iters}']
    schedulers = cfg.get('param_scheduler') or []
    schedulers = [schedulers] if isinstance(schedulers, dict) else list(schedulers)
    previous_end = 0
    for index, scheduler in enumerate(schedulers):
        if scheduler.get('by_epoch', True) is not False:
            continue
        begin = min(round(scheduler.get('begin', 0) * iters / total), iters - 1)
        begin = max(begin, previous_end if scheduler.get('begin', 0) > 0 else 0)
        end = max(round(scheduler.get('end', total) * iters / total), begin + 1)
        options += [f'param_scheduler.{index}.begin={begin}', f'param_scheduler.{index}.end={end}']
        if 'T_max' in scheduler:
            options.append(f'param_scheduler.{index}.T_max={end - begin}')
        previous_end = end
    return options


def results_option(results_dir: Path | None, key: str) -> list[str]:
    """``--results FILE`` of tools/test.py for row ``key`` (nothing without a results dir)."""
    return [] if results_dir is None else ['--results', str(results_dir / f'{key}.json')]


def train_and_test(
    config: Path,
    train_dir: Path,
    test_dir: Path,
    iters: int | None,
    options: list[str],
    results: list[str] = (),
) -> dict:
    """Train ``config`` unless its last checkpoint exists, then test that checkpoint.

    Args:
        config: The config file.
        train_dir: Its work dir (holds ``iter_<iters>.pth``).
        test_dir: Work dir of the test run (its metrics json).
        iters: Training iterations (None: the config's).
        options: ``--cfg-options`` for both runs (data roots, weights files).
        results: Extra tools/test.py arguments (``--results FILE``).

    Returns:
        dict: ``checkpoint`` and ``metrics``.
    """
    from mmpat.utils.projects import load_config_file

    iters = iters or load_config_file(str(config)).train_cfg.max_iters
    checkpoint = train_dir / f'iter_{iters}.pth'
    if checkpoint.is_file():
        print(f'found {checkpoint}, skipping training (delete it to retrain)')
    else:
        schedule = [*schedule_options(config, iters), f'train_cfg.val_interval={iters}']
        schedule.append(f'default_hooks.checkpoint.interval={iters}')
        run_tool(['tools/train.py', str(config), '--work-dir', str(train_dir)]
                 + ['--cfg-options', *options, *schedule])  # fmt: skip
    run_tool(['tools/test.py', str(config), str(checkpoint), '--work-dir', str(test_dir),
              *results, '--cfg-options', *options])  # fmt: skip
    return dict(checkpoint=str(checkpoint), metrics=latest_metrics(test_dir))


def pretrain_clip(
    config: Path,
    clip_dir: Path,
    data: Path | str,
    iters: int | None,
    shipped: Path | None = None,
) -> Path:
    """Train a scenes CLIP ``config`` into ``clip_dir`` unless its export exists.

    Args:
        config: A ``configs/clip/`` config (its ``ExportCLIPHook`` writes ``clip_tiny.pth``).
        clip_dir: The work dir.
        data: The scenes folder.
        iters: Iterations of a smaller run (None: the config's; the schedule is scaled).
        shipped: A compact file of the config's own run (``seeded_clip.py``): unpacked (bit for
            bit, verified) instead of training, when given and ``iters`` is None.

    Returns:
        Path: ``clip_dir / 'clip_tiny.pth'``.
    """
    weights = clip_dir / 'clip_tiny.pth'
    if weights.is_file():
        print(f'found {weights}, skipping pretraining (delete it to retrain)', flush=True)
        return weights
    if shipped is not None and iters is None:
        from mmpat.apis.seeded_clip import unpack_seeded_clip_to

        unpack_seeded_clip_to(str(shipped), str(weights))
        print(
            f'  unpacked the shipped {shipped.relative_to(ROOT)} into {weights} (bit for bit '
            f'the run of {config.relative_to(ROOT)}; --train-clip retrains it)',
            flush=True,
        )
        return weights
    options = [f'train_dataloader.dataset.data_root={data}']
    if iters is not None:
        options += schedule_options(config, iters)
    run_tool(
        ['tools/train.py', str(config), '--work-dir', str(clip_dir), '--cfg-options', *options]
    )
    return weights


def write_trivial_results(path: Path, trivial: dict, data: Path, num_classes: int) -> None:
    """The trivial baseline as an mmpat-results/1 row (no config: named by its method)."""
    from mmpat.evaluation.results_file import results_record, write_results

    record = results_record(
        config='trivial',
        checkpoint=None,
        test_dataset=dict(type='ScenesDataset', data_root=str(data)),
        train_dataset=None,
        num_classes=num_classes,
        average='all',
        metrics=trivial,
        device='cpu',
    )
    record.update(method=f'trivial: "{trivial["class"]}" everywhere', backbone='-')
    write_results(path, record)


def write_comparison(inferencer, image: Path, data: Path, classes: list, out: Path) -> None:
    """Image, ground truth and prediction of one ``val`` image, 4x enlarged, to ``out``."""
    import numpy as np
    from PIL import Image

    from mmpat.visualization import draw_comparison

    result = inferencer(str(image), classes)
    truth = np.asarray(Image.open(data / 'ann_dir/val' / image.name)).astype(np.int64)
    rgb = np.asarray(Image.open(image).convert('RGB'))
    palette = inferencer.model.dataset_meta['palette']
    figure = draw_comparison(rgb, truth, result['label_map'], result['classes'], palette)
    Image.fromarray(figure).save(out)


def data_options(data: Path) -> list[str]:
    return [
        f'{loader}.dataset.data_root={data}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


def run_groupvit(args: argparse.Namespace, data: Path, work_dir: Path) -> dict:
    """Train GroupViT-tiny on the captions unless its last checkpoint exists; test it on val."""
    config = ROOT / args.groupvit_config
    gv_dir = ROOT / (args.groupvit_dir or f'work_dirs/{config.stem}')
    results = results_option(args.results_dir, 'groupvit')
    return train_and_test(
        config, gv_dir, work_dir / 'groupvit', args.groupvit_iters, data_options(data), results
    )


def run_pat_row(
    args: argparse.Namespace, key: str, data: Path, weights: Path, work_dir: Path
) -> dict:
    """Train and test one PAT config (``key`` of ``PAT_CONFIGS``)."""
    options = [
        *data_options(data),
        f'model.backbone.pretrained={weights}',
        f'model.text_encoder.pretrained={weights}',
    ]
    started = time.time()
    config = ROOT / PAT_CONFIGS[key]
    train_dir = ROOT / args.train_dir / config.stem
    row_results = results_option(args.results_dir, key)
    result = train_and_test(config, train_dir, work_dir / key, args.pat_iters, options, row_results)
    return {key: dict(result, seconds=round(time.time() - started, 1))}


def draw_pat_tokens(results: dict, data: Path, work_dir: Path) -> None:
    """The tokenizer's token maps of a validation image, with the trained PAT."""
    from PIL import Image

    from mmpat.apis import init_tokenizer, tokenize_image, tokenizer_figure

    image = sorted((data / 'img_dir/val').glob('*.png'))[0]
    model = init_tokenizer(
        str(ROOT / PAT_CONFIGS['pat']),
        results['pat']['checkpoint'],
        device='cpu',
    )
    figure = work_dir / 'pat_tokens_val.png'
    Image.fromarray(tokenizer_figure(tokenize_image(model, str(image)))).save(figure)
    results['pat']['tokens_figure'] = str(figure)


def run_trained_methods(
    args: argparse.Namespace, data: Path, weights: Path, work_dir: Path
) -> dict:
    """PAT, its baseline and MVP-SEG (then MVP-SEG+) trained and tested, ``args.jobs`` of them
    side by side (each tool with the job's thread count, so together they fill the cores
    without oversubscribing them). Returns their summary entries."""
    tasks = []
    if not args.no_pat:
        tasks.append(lambda: run_pat_row(args, 'pat', data, weights, work_dir))
    if not args.no_mvp_seg:  # the longest chain (teacher, then student) starts early
        tasks.append(lambda: run_mvp_seg(args, data, weights, work_dir))
    if not args.no_pat:
        tasks.append(lambda: run_pat_row(args, 'pat_baseline', data, weights, work_dir))
    jobs = max(1, min(args.jobs, len(tasks)))

    def in_stream(task):
        _PARALLEL.on = jobs > 1
        try:
            return task()
        finally:
            _PARALLEL.on = False

    results: dict = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for part in [future.result() for future in [pool.submit(in_stream, t) for t in tasks]]:
            results.update(part)
    if not args.no_pat:
        with quiet():
            draw_pat_tokens(results, data, work_dir)
    return results


def run_mvp_seg(args: argparse.Namespace, data: Path, weights: Path, work_dir: Path) -> dict:
    """Train and test MVP-SEG, then (unless skipped) its MVP-SEG+ student."""
    clip = [f'model.backbone.pretrained={weights}', f'model.text_encoder.pretrained={weights}']
    config = ROOT / MVP_SEG_CONFIGS['mvp_seg']
    started = time.time()
    teacher = train_and_test(
        config,
        ROOT / args.train_dir / config.stem,
        work_dir / 'mvp_seg',
        args.mvp_seg_iters,
        [*data_options(data), *clip],
        results_option(args.results_dir, 'mvp_seg'),
    )
    results = dict(mvp_seg=dict(teacher, seconds=round(time.time() - started, 1)))
    if args.no_mvp_seg_plus:
        return results
    student = ROOT / MVP_SEG_CONFIGS['mvp_seg_plus']
    started = time.time()
    options = [
        *data_options(data),
        f'model.backbone.pretrained={weights}',  # the student starts from the VLM's tower
        f'model.text_encoder.text_encoder.pretrained={weights}',
        f'model.text_encoder.checkpoint={teacher["checkpoint"]}',
        f'custom_hooks.1.teacher_config={config}',
        f'custom_hooks.1.teacher_checkpoint={teacher["checkpoint"]}',
    ]
    if args.mvp_seg_plus_iters is not None:  # keep the teacher's share of the schedule
        switch = max(1, round(100 * args.mvp_seg_plus_iters / 1000))
        options.append(f'custom_hooks.1.switch_iter={switch}')
    plus = train_and_test(
        student, ROOT / args.train_dir / student.stem, work_dir / 'mvp_seg_plus',
        args.mvp_seg_plus_iters, options, results_option(args.results_dir, 'mvp_seg_plus'),
    )  # fmt: skip
    results['mvp_seg_plus'] = dict(plus, seconds=round(time.time() - started, 1))
    return results


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.groupvit and not (ROOT / args.groupvit_config).is_file():  # before the long steps
        raise SystemExit(f'error: --groupvit-config {args.groupvit_config} does not exist')
    import mmpat  # noqa: F401
    from mmpat.datasets.scenes import generate_scenes

    data, clip_dir, work_dir = (ROOT / args.data, ROOT / args.clip_dir, ROOT / args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    threads = configure_output(None if args.verbose else work_dir / 'logs', args.threads)
    if args.jobs is None:
        args.jobs = max(1, (os.cpu_count() or 1) // threads)
    if args.verbose:
        args.jobs = 1  # streamed logs of parallel tools would interleave
    where = 'the console' if args.verbose else work_dir / 'logs'
    print(
        f'torch threads per process: {threads}; trainings side by side: {args.jobs}; '
        f'full logs: {where}',
        flush=True,
    )
    if args.results_dir is not None:
        args.results_dir = ROOT / args.results_dir
    summary: dict = {}

    started = step('1. scenes')
    sizes = dict(num_pretrain=args.num_pretrain, num_train=args.num_train, num_val=args.num_val)
    meta = generate_scenes(
        str(data), seed=args.seed, **{k: v for k, v in sizes.items() if v is not None}
    )
    summary['scenes'] = dict(
        path=str(data),
        classes=len(meta['classes']),
        unseen=meta['unseen'],
        seconds=round(time.time() - started, 1),
    )

    started = step('2. tiny CLIP pretraining')
    shipped = None if args.train_clip or not CLIP_SHIPPED.is_file() else CLIP_SHIPPED
    existed = (clip_dir / 'clip_tiny.pth').is_file()
    weights = pretrain_clip(CLIP_CONFIG, clip_dir, data, args.clip_iters, shipped)
    unpacked = shipped is not None and args.clip_iters is None
    source = 'found' if existed else ('shipped' if unpacked else 'trained')
    summary['clip'] = dict(
        weights=str(weights), source=source, seconds=round(time.time() - started, 1)
    )

    step('3. tiny CLIP zero-shot classification (dominant object, val)')
    from mmpat.apis.clip_export import load_clip_export
    from mmpat.evaluation.clip_zeroshot import clip_zeroshot_dominant

    with quiet():
        accuracy = clip_zeroshot_dominant(load_clip_export(str(weights)), str(data))
    summary['clip']['zero_shot_classification'] = accuracy
    print(
        f'  accuracy {100 * accuracy["acc"]:.1f}% (seen {100 * accuracy["acc_seen"]:.1f}% of '
        f'{accuracy["n_seen"]}, unseen {100 * accuracy["acc_unseen"]:.1f}% of '
        f'{accuracy["n_unseen"]}; chance {100 * accuracy["chance"]:.1f}%)',
        flush=True,
    )

    started = step('4. dense-CLIP zero-shot segmentation (val)')
    test_dir = work_dir / 'dense_clip'
    run_tool(
        [
            'tools/test.py',
            str(DENSE_CLIP_CONFIG),
            '--work-dir',
            str(test_dir),
            *results_option(args.results_dir, 'dense_clip'),
            '--cfg-options',
            f'model.backbone.pretrained={weights}',
            f'model.text_encoder.pretrained={weights}',
            f'test_dataloader.dataset.data_root={data}',
        ]
    )
    metrics = latest_metrics(test_dir)
    summary['dense_clip'] = dict(metrics=metrics, seconds=round(time.time() - started, 1))
    from mmpat.evaluation.trivial_baselines import constant_prediction_metrics

    # The bar every method must clear: the most frequent class (background) everywhere.
    with quiet():
        trivial = constant_prediction_metrics(str(data), 'val')
    summary['trivial_most_frequent_class'] = trivial
    if args.results_dir is not None:
        write_trivial_results(
            args.results_dir / 'trivial.json', trivial, data, len(meta['classes'])
        )

    step('5. overlay of a validation image')
    from mmpat.apis import OpenVocabInferencer

    image = sorted((data / 'img_dir/val').glob('*.png'))[0]
    overlay = work_dir / 'overlay_val.png'
    with quiet():
        inferencer = OpenVocabInferencer(
            str(DENSE_CLIP_CONFIG),
            device='cpu',
            cfg_options={
                'model.backbone.pretrained': str(weights),
                'model.text_encoder.pretrained': str(weights),
            },
        )
        write_comparison(inferencer, image, data, list(meta['classes']), overlay)

    rows = [('dense-CLIP', metrics)]
    if not (args.no_pat and args.no_mvp_seg):
        step(
            '6-7. PAT, its baseline, MVP-SEG and MVP-SEG+: training on seen classes, zero-shot '
            f'segmentation (val); {args.jobs} at a time'
        )
        trained = run_trained_methods(args, data, weights, work_dir)
        summary.update(trained)
    if not args.no_pat:
        rows += [('PAT baseline (no tokens)', summary['pat_baseline']['metrics'])]
        rows += [('PAT', summary['pat']['metrics'])]
    if not args.no_mvp_seg:
        rows += [('MVP-SEG', summary['mvp_seg']['metrics'])]
        if 'mvp_seg_plus' in summary:
            rows += [('MVP-SEG+ (transductive)', summary['mvp_seg_plus']['metrics'])]
    if args.groupvit:
        started = step('8. GroupViT-tiny from captions: training and zero-shot segmentation (val)')
        groupvit = run_groupvit(args, data, work_dir)
        summary['groupvit'] = dict(groupvit, seconds=round(time.time() - started, 1))
        rows.append(('GroupViT (captions only)', groupvit['metrics']))
    rows.append((f'all "{trivial["class"]}" (trivial)', trivial))

    (work_dir / 'summary.json').write_text(json.dumps(summary, indent=2))
    print('\n=== results ===')
    print(f'{"":28s} {"mIoU":>8s} {"mIoU_seen":>10s} {"mIoU_unseen":>12s} {"hIoU":>8s}')
    for name, values in rows:
        cells = [next((v for k, v in values.items() if k.endswith(key)), None) for key in KEYS]
        print(f'{name:28s} ' + ' '.join(f'{c!s:>{w}s}' for c, w in zip(cells, (8, 10, 12, 8))))
    print(f'scenes:   {data}')
    print(f'tiny CLIP {weights}')
    print(f'overlay:  {overlay} (image {image.name})')
    if not args.no_pat:
        print(f'tokens:   {summary["pat"]["tokens_figure"]}')
    print(f'summary:  {work_dir / "summary.json"}')


if __name__ == '__main__':
    main()
