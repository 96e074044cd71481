"""Achieved GFLOP/s of segmentor forward passes against this machine's matmul peak.

For each config: the image path's FLOPs (``mmpat.apis.flops``: the analyzer's multiply-adds,
times 2 here to get floating-point operations) and its wall time (the same computation: the
segmentor's whole/slide inference on one preprocessed random ``--shape`` image, text
embeddings precomputed), interleaved in the same process with a large square fp32 ``torch.mm``
(``--matmul-size``, 2 n^3 FLOP) on the same device and threads, so that load from other
processes on a shared machine hits both alike. Prints GFLOP/s, the peak's and their ratio for
every ``--threads`` value (the ratio of the medians, and the median of each round's ratio to
the matmul timed next to it); ``--profile N`` adds torch.profiler's top N operators of one forward
pass. See docs/tools.md and docs/experiments/efficiency.md.

Example::

    python tools/analysis_tools/efficiency.py configs/pat/pat_vit-b_ade20k.py \
        configs/dense_clip/dense-clip_vit-b16_zeroshot_ade20k-150.py --shape 448 448 \
        --threads 1 2 --out work_dirs/efficiency.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from mmpat.apis.benchmarking import (
    analysis_errors,
    analysis_parser,
    device_name,
    model_from_args,
    parse_analysis_args,
    synchronize,
    time_calls,
    timing_stats,
    write_json,
)
from mmpat.apis.flops import count_flops, image_path

FORMAT = 'mmpat-efficiency/1'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = analysis_parser(
        __doc__.split('\n')[0], out_format=FORMAT, many_configs=True, checkpoint=False
    )
    parser.add_argument('--threads', type=int, nargs='+', default=[1], help='thread counts')
    parser.add_argument('--repeat', type=int, default=5, help='timed rounds (default 5)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed rounds (default 1)')
    parser.add_argument('--matmul-size', type=int, default=2048, help='n of the n x n matmul')
    parser.add_argument('--profile', type=int, default=0, metavar='N', help='top N ops')
    parser.add_argument(
        '--timer',
        choices=['wall', 'cpu'],
        default='wall',
        help='wall time, or the process CPU time (less sensitive to other processes; with '
        'several threads: per CPU-second, spin-waits included)',
    )
    args = parse_analysis_args(parser, argv)
    if min(args.threads) < 1 or args.matmul_size < 1:
        parser.error('--threads and --matmul-size must be >= 1')
    return args


def interleaved(
    first: Callable[[], None],
    second: Callable[[], None],
    *,
    repeat: int,
    warmup: int,
    device,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], list[float]]:
    """Seconds of ``first`` and ``second`` timed alternately (A B, B A, ...) after warm-up."""
    for _ in range(warmup):
        first()
        second()
    times: tuple[list[float], list[float]] = ([], [])
    for index in range(repeat):
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for which in order:
            fn = (first, second)[which]
            times[which].extend(time_calls(fn, repeat=1, device=device, clock=clock))
    return times


def matmul_peak(size: int, device) -> tuple[Callable[[], None], float]:
    """A ``size`` x ``size`` fp32 matmul and its FLOP count (2 n^3)."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)
    b = torch.randn(size, size, generator=generator).to(device)
    out = torch.empty(size, size, device=device)
    return (lambda: torch.mm(a, b, out=out)), 2.0 * size**3


def profile_table(forward: Callable[[], None], rows: int) -> str:
    """torch.profiler's operators of one call, by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        forward()
    return prof.key_averages(group_by_input_shape=True).table(
        sort_by='self_cpu_time_total', row_limit=rows
    )


def measure_config(config: str, args: argparse.Namespace) -> list[dict]:
    """One row per thread count for ``config``."""
    analysis = model_from_args(args, config)
    device = analysis.device
    path, inputs, _ = image_path(analysis, args.shape)
    macs = count_flops(path, inputs).total
    path.keep_features = False
    prediction_macs = count_flops(path, inputs).total
    path.keep_features = True
    mm, mm_flop = matmul_peak(args.matmul_size, device)

    def forward() -> None:
        with torch.no_grad():
            path(*inputs)

    for note in analysis.notes:
        print(f'  note: {note}')
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        clock = time.process_time if args.timer == 'cpu' else time.perf_counter
        model_s, mm_s = interleaved(
            forward, mm, repeat=args.repeat, warmup=args.warmup, device=device, clock=clock
        )
        model_rate = 2.0 * macs / statistics.median(model_s) / 1e9
        peak_rate = mm_flop / statistics.median(mm_s) / 1e9
        # Each round's model time against the matmul timed next to it: load that comes and
        # goes during the run affects both sides of a pair.
        paired = [(2.0 * macs / m) / (mm_flop / p) for m, p in zip(model_s, mm_s)]
        rows.append(
            dict(
                config=config,
                config_name=Path(config).stem,
                mode=analysis.mode,
                num_classes=analysis.num_classes,
                threads=torch.get_num_threads(),
                timer=args.timer,
                analyzer_gmacs=macs / 1e9,
                forward_gflop=2.0 * macs / 1e9,
                prediction_gflop=2.0 * prediction_macs / 1e9,
                time_ms=timing_stats(model_s),
                gflop_per_s=model_rate,
                peak=dict(
                    matmul_size=args.matmul_size,
                    time_ms=timing_stats(mm_s),
                    gflop_per_s=peak_rate,
                    best_gflop_per_s=mm_flop / min(mm_s) / 1e9,
                ),
                ratio_to_peak=model_rate / peak_rate,
                paired_ratio_median=statistics.median(paired),
            )
        )
        print_row(rows[-1])
        if args.profile:
            synchronize(device)
            print(profile_table(forward, args.profile))
    return rows


def print_row(row: dict) -> None:
    time_ms, peak = row['time_ms'], row['peak']
    print(
        f'| {row["config_name"]} ({row["mode"]}) | {row["threads"]} | '
        f'{row["forward_gflop"]:.4g} | {time_ms["median"]:.0f} ± {time_ms["iqr"]:.0f} | '
        f'{row["gflop_per_s"]:.1f} | {peak["gflop_per_s"]:.1f} | {row["ratio_to_peak"]:.2f} '
        f'({row["paired_ratio_median"]:.2f}) |',
        flush=True,
    )


def main(argv: list[str] | None = None) -> dict:
    """Measure every config; returns the JSON record (also written with ``--out``)."""
    args = parse_args(argv)
    height, width = args.shape
    print(
        f'torch {torch.__version__}, {args.device} ({device_name(args.device)}), {height}x{width} '
        f'images, fp32 matmul peak at n={args.matmul_size}, {args.repeat} interleaved rounds, '
        f'{args.timer} time'
    )
    print(
        '\n| config (mode) | threads | GFLOP | time (ms, median ± IQR) | GFLOP/s | '
        'matmul GFLOP/s | ratio (paired) |'
    )
    print('|---|---|---|---|---|---|---|')
    rows = []
    with analysis_errors():
        for config in args.configs:
            rows.extend(measure_config(config, args))
    record = dict(
        format=FORMAT,
        device=torch.device(args.device).type,
        device_name=device_name(args.device),
        torch=torch.__version__,
        shape=list(args.shape),
        rows=rows,
    )
    if args.out:
        write_json(args.out, record)
        print(f'written: {args.out}')
    return record


if __name__ == '__main__':
    main(sys.argv[1:])
