"""FLOPs and parameters of a segmentor config, counted by mmengine's analyzer.

Two counts (one multiply-add = one FLOP, the analyzer's and mmseg's convention; see
``mmpat.apis.flops``): the image path (the segmentor's whole or slide inference on a
``--shape`` image, head included, text embeddings given as inputs) and the text encoder's pass
over the vocabulary (once per vocabulary). Parameters: total and trainable (``requires_grad``
after the model's own freezing). mmseg's own ``get_flops.py`` passes both ``input_shape`` and
``inputs`` to ``get_model_complexity_info`` (an error in mmengine 0.10); this tool calls the
analyzer with ``inputs`` only. See docs/tools.md.

Examples::

    python tools/analysis_tools/get_flops.py configs/pat/pat_vit-b_ade20k.py --shape 512 512
    python tools/analysis_tools/get_flops.py \
        configs/dense_clip/dense-clip_vit-b16_zeroshot_voc-20.py --shape 448 448 \
        --out work_dirs/flops/dense-clip_voc.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmpat.apis.benchmarking import (
    analysis_errors,
    analysis_parser,
    model_from_args,
    parse_analysis_args,
    write_json,
)
from mmpat.apis.flops import COUNTER, Complexity, model_complexity

FORMAT = 'mmpat-flops/1'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = analysis_parser(__doc__.split('\n')[0], out_format=FORMAT)
    return parse_analysis_args(parser, argv)


def print_table(complexity: Complexity, record: dict, notes: list[str]) -> None:
    height, width = record['shape']
    print(f'{record["config_name"]}: {height}x{width} image, {record["num_classes"]} classes')
    for note in notes:
        print(f'  note: {note}')
    print('\n| part | GFLOPs | params (M) | trainable (M) |')
    print('|---|---|---|---|')
    for name, flops, params, trainable in complexity.parts:
        cells = (f'{params / 1e6:.4g}', f'{trainable / 1e6:.4g}') if params else ('', '')
        print(f'| {name} | {flops / 1e9:.4g} | {cells[0]} | {cells[1]} |')
    params = record['params_m']
    print(
        f'| **image path (total)** | {record["gflops"]:.4g} | {params["total"]:.4g} | '
        f'{params["trainable"]:.4g} |'
    )
    prediction = complexity.prediction.total / 1e9
    if prediction < record['gflops']:
        print(f'| of which reach the prediction | {prediction:.4g} | | |')
    if record['text_gflops'] is not None:
        print(f'| text pass over the vocabulary (once) | {record["text_gflops"]:.4g} | | |')
    if prediction < record['gflops']:
        print(
            f'\n{record["gflops"] - prediction:.4g} GFLOPs compute features that no head of '
            'this config reads (e.g. backbone outputs it ignores)'
        )
    if record['unsupported_ops']:
        ops = ', '.join(f'{op} x{n}' for op, n in record['unsupported_ops'].items())
        print(f'\nnot counted (element-wise and other ops the analyzer skips): {ops}')


def main(argv: list[str] | None = None) -> dict:
    """Count FLOPs and parameters; returns the JSON record (also written with ``--out``)."""
    args = parse_args(argv)
    with analysis_errors():
        analysis = model_from_args(args)
        complexity = model_complexity(analysis, args.shape)
    record = dict(
        format=FORMAT,
        config=args.config,
        config_name=Path(args.config).stem,
        shape=list(args.shape),
        num_classes=analysis.num_classes,
        gflops=complexity.image.total / 1e9,
        text_gflops=complexity.text.total / 1e9 if complexity.text else None,
        params_m=dict(
            total=complexity.params_total / 1e6, trainable=complexity.params_trainable / 1e6
        ),
        counter=COUNTER,
        unsupported_ops=complexity.unsupported,
    )
    print_table(complexity, record, analysis.notes)
    if args.out:
        write_json(args.out, record)
        print(f'written: {args.out}')
    return record


if __name__ == '__main__':
    main(sys.argv[1:])
