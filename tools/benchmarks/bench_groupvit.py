"""Benchmark GroupViT-S on CPU against HF transformers' GroupViT on the same weights.

1. Image+text forward (224 px, batch 8 images + 8 texts of 77 tokens): mmpat vs
   ``transformers.GroupViTModel`` (random weights converted with mmpat's HF converter), timed
   alternately in the same run; the embeddings are checked to agree.
2. Zero-shot slide inference (crop 448, stride 224) of one 448x672 image with the VOC
   vocabulary (background + 20), text embeddings cached.

Example::

    python tools/benchmarks/bench_groupvit.py --repeats 5 --threads 2 \
        --out work_dirs/bench_groupvit.json

``--out FILE`` writes the table's rows as ``mmpat-refbench/1`` JSON for the leaderboard.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

VOC = (
    'background aeroplane bicycle bird boat bottle bus car cat chair cow table dog horse '
    'motorbike person plant sheep sofa train monitor'
).split()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: as is)')
    parser.add_argument('--skip-slide', action='store_true')
    parser.add_argument('--out', help='write the rows as mmpat-refbench/1 JSON here')
    return parser.parse_args(argv)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> int:
    args = parse_args(argv)
    import open_clip
    import torch
    import transformers
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmpat  # noqa: F401
    from mmpat.apis.benchmarking import refbench_row, write_refbench
    from mmpat.models.groupvit import groupvit_zero_shot_cfg, load_groupvit_weights

    init_default_scope('mmseg')  # the configs' scope (run as a script, nothing sets it)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    hf = transformers.GroupViTModel(transformers.GroupViTConfig()).eval()
    ours = MODELS.build(groupvit_zero_shot_cfg('GroupViT-S')).eval()
    load_groupvit_weights(ours, hf.state_dict(), 'GroupViT-S')
    images = torch.randn(args.batch, 3, 224, 224)
    captions = [f'a photo of a {c} on the table.' for c in VOC[1 : args.batch + 1]]
    tokens = open_clip.tokenize(captions, context_length=77)

    def run_hf():
        img = hf.get_image_features(pixel_values=images).pooler_output
        txt = hf.get_text_features(input_ids=tokens).pooler_output
        return img, txt

    def run_ours():
        img = ours.decode_head.img_projector(ours.backbone(images)['pooled'])
        txt = ours.text_encoder.projector(ours.text_encoder(tokens))
        return img, txt

    with torch.inference_mode():
        (hi, ht), (oi, ot) = run_hf(), run_ours()  # warm-up and check
        diff = max((hi - oi).abs().max().item(), (ht - ot).abs().max().item())
        t_hf, t_ours = [], []
        for _ in range(args.repeats):
            t_hf.append(timed(run_hf))
            t_ours.append(timed(run_ours))
    med_hf, med_ours = statistics.median(t_hf), statistics.median(t_ours)
    out_rows = [
        refbench_row(
            f'image+text forward, 224px, batch {args.batch}',
            ours='mmpat GroupViT-S',
            reference='HF transformers GroupViTModel',
            ours_s=med_ours,
            reference_s=med_hf,
            max_abs_diff=diff,
        )
    ]
    rows = [
        ('image+text forward, HF transformers', f'{med_hf * 1000:.0f} ms', '1.00x'),
        ('image+text forward, mmpat', f'{med_ours * 1000:.0f} ms', f'{med_ours / med_hf:.2f}x'),
    ]
    if not args.skip_slide:
        ours.test_cfg.mode = 'slide'
        ours.test_cfg.crop_size = (448, 448)
        ours.test_cfg.stride = (224, 224)
        image = torch.randn(1, 3, 448, 672)

        def first_call():
            ours.set_vocabulary(VOC)  # encodes the 20 class texts
            ours.predict(image)

        with torch.inference_mode():
            first = timed(first_call)
            slide = [timed(lambda: ours.predict(image)) for _ in range(max(1, args.repeats // 2))]
        cached = statistics.median(slide)
        for when, seconds in (('first call (encodes the texts)', first), ('cached', cached)):
            out_rows.append(
                refbench_row(
                    f'zero-shot slide 448x672 (2 crops), {when}',
                    ours='mmpat GroupViT-S',
                    reference=None,
                    ours_s=seconds,
                )
            )
        rows.append(('zero-shot slide 448x672 (2 crops), first call', f'{first * 1000:.0f} ms', ''))
        rows.append(
            (
                'zero-shot slide 448x672 (2 crops), cached',
                f'{cached * 1000:.0f} ms',
                '',
            )
        )
    print(
        f'torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, '
        f'repeats {args.repeats}; max |HF - mmpat| embedding diff {diff:.2e}'
    )
    print('| benchmark | median time | ratio vs HF |')
    print('|---|---|---|')
    for name, value, ratio in rows:
        print(f'| {name} | {value} | {ratio} |')
    if args.out:
        write_refbench(
            args.out,
            tool='bench_groupvit',
            title='GroupViT-S: mmpat vs HF transformers (same random weights), CPU',
            rows=out_rows,
            threads=torch.get_num_threads(),
            repeats=args.repeats,
        )
        print(f'written: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
