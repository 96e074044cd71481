"""Inference speed and peak memory of a segmentor config (every mmpat segmentor, whole/slide).

Random uint8 images of ``--shape`` go through the model's data preprocessor and ``predict``
(whole or slide inference as the config's ``test_cfg`` says, or ``--mode``); ``--warmup``
untimed calls, then ``--repeat`` timed ones. Reports the median and spread of the time per
image, the throughput and the process's peak memory during the timed loop (RSS on the CPU:
Linux's VmHWM reset before the loop; max allocated on CUDA). Without a checkpoint the weights
are random (weights files of the config that do not exist are replaced, and the output says
so). See docs/tools.md.

Examples::

    python tools/analysis_tools/benchmark.py configs/pat/pat_vit-b_ade20k.py --shape 512 512
    python tools/analysis_tools/benchmark.py configs/mvp_seg/mvp-seg_vit-b16_20k_voc-20-zs.py \
        --num-classes 5 --mode whole --threads 2 --out work_dirs/speed/mvp-seg.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from mmpat.apis.benchmarking import (
    AnalysisModel,
    PeakMemory,
    analysis_errors,
    analysis_parser,
    device_name,
    model_from_args,
    parse_analysis_args,
    random_batch,
    time_calls,
    timing_stats,
    write_json,
)

FORMAT = 'mmpat-benchmark/1'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = analysis_parser(__doc__.split('\n')[0], out_format=FORMAT)
    parser.add_argument('--repeat', type=int, default=10, help='timed calls (default 10)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed calls first (default 2)')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads (default: as is)')
    return parse_analysis_args(parser, argv)


def measure(analysis: AnalysisModel, shape, *, repeat: int, warmup: int) -> dict:
    """Time ``preprocess + predict`` of one random image; peak memory of the timed loop.

    Returns:
        dict: ``time_ms`` (:func:`timing_stats`), ``images_per_s`` (from the median),
        ``peak_memory_mb`` and ``memory_kind``.
    """
    model, device = analysis.model, analysis.device
    batch = random_batch(shape)

    def predict() -> None:
        data = model.data_preprocessor(batch, False)
        model.predict(data['inputs'], data['data_samples'])

    with torch.no_grad():
        time_calls(predict, repeat=0, warmup=warmup, device=device)
        with PeakMemory(device) as memory:
            seconds = time_calls(predict, repeat=repeat, device=device)
    stats = timing_stats(seconds)
    return dict(
        time_ms=stats,
        images_per_s=1000.0 / stats['median'],
        peak_memory_mb=memory.peak_mb,
        memory_kind=memory.kind,
    )


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; returns the JSON record (also written with ``--out``)."""
    args = parse_args(argv)
    with analysis_errors():
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        analysis = model_from_args(args)
        result = measure(analysis, args.shape, repeat=args.repeat, warmup=args.warmup)
    device = analysis.device
    record = dict(
        format=FORMAT,
        config=args.config,
        config_name=Path(args.config).stem,
        checkpoint=args.checkpoint,
        device=device.type,
        device_name=device_name(device),
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        mode=analysis.mode,
        shape=list(args.shape),
        num_classes=analysis.num_classes,
        warmup=args.warmup,
        repeat=args.repeat,
        **result,
    )
    print_record(record, analysis.notes)
    if args.out:
        write_json(args.out, record)
        print(f'written: {args.out}')
    return record


def print_record(record: dict, notes: list[str]) -> None:
    time_ms = record['time_ms']
    height, width = record['shape']
    print(
        f'{record["config_name"]}: {record["mode"]} inference, {record["num_classes"]} '
        f'classes, {height}x{width} images'
    )
    for note in notes:
        print(f'  note: {note}')
    print(
        f'torch {record["torch"]}, {record["threads"]} threads (torch.set_num_threads), '
        f'{record["device"]} ({record["device_name"]})'
    )
    print(
        f'{record["warmup"]} warm-up + {record["repeat"]} timed calls: median '
        f'{time_ms["median"]:.1f} ms (IQR {time_ms["iqr"]:.1f}, min {time_ms["min"]:.1f}, '
        f'max {time_ms["max"]:.1f}), {record["images_per_s"]:.2f} images/s, peak '
        f'{record["memory_kind"]} {record["peak_memory_mb"]:.0f} MiB'
    )


if __name__ == '__main__':
    main(sys.argv[1:])
