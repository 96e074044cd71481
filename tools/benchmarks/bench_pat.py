"""Benchmark PAT against its baseline in one run: training step, inference, parameters, memory.

Both models come from ``configs/_base_/models/pat_vit-b16.py`` with random weights
(``pretrained=None``; the channels follow ``--preset``): PAT as configured, and its baseline
without the tokenizer and the pixel branch (``neck=None``, ``auxiliary_head=None``,
``decode_head.token_channels=None``), sharing the same frozen image and text towers. The
vocabulary has the ADE-150 size: 150 random unit class embeddings, set through
``set_vocabulary`` with the text encoder's ``encode_vocabulary`` replaced (encoding 150 x 14
prompts with a random ViT-B text tower on CPU would only add start-up time; the heads see
exactly what they see with real class names).

Measured, on ``--size`` x ``--size`` random images (batch ``--batch``), CPU:

1. training step: ``model.train_step`` (data preprocessor, all losses, backward, AdamW step
   through an mmengine ``OptimWrapper``) of PAT vs the baseline;
2. inference: ``model.test_step`` in eval mode (whole image: preprocessor, backbone,
   tokenizer, semantic head, logits resized to the input; the pixel branch is training-only);
3. parameters: trainable and total counts of both models and PAT's trainable share;
4. tokenizer peak memory (the ``PyramidTokenizer`` neck with its shared decoder, on random
   backbone maps of the grid of that size) at two sizes (``--memory-sizes``, default 256 and
   512: 4x the pixels), for a training pass (forward + backward) and an inference pass
   (``no_grad`` forward). Method: the RSS of a fresh subprocess (not the benchmark's, which
   holds both models), with glibc's mmap threshold fixed (``MALLOC_MMAP_THRESHOLD_``) so that
   freed tensors go back to the OS and the RSS follows the live tensors (torch's CPU
   allocator does not cache). After building the neck, the inputs and a warm-up pass on a
   tiny grid (lazy kernel init, codebook init, gradient buffers), each pass resets the RSS
   high-water mark (``/proc/self/clear_refs`` 5), takes the current RSS (``VmRSS``) as its
   base and reports the high-water mark (``VmHWM``) after the pass minus that base. Where
   the mark cannot be reset, one subprocess per pass uses ``getrusage`` ``ru_maxrss`` and
   flags the pass invalid when it did not raise the mark.

Timings 1 and 2 are interleaved (A B B A ...) after ``--warmup`` untimed runs of each; the
medians of ``--repeats`` runs are compared (also shown: the median of the per-repeat ratios of
adjacent runs, "paired"). On a shared machine, ``--threads 1 --timer cpu``
(process CPU time) is far less disturbed by other processes than the wall-clock of several
threads (a descheduled thread stalls the others). Targets: PAT training step <= 1.35x the
baseline's, PAT inference <= 1.2x, trainable parameters <= 15% of the total, tokenizer memory
ratio <= 1.25x the pixel ratio (linear in the pixels). ``--profile`` also times the PAT-only
parts in isolation (forward + backward) on the backbone's features.

Example::

    python tools/benchmarks/bench_pat.py --repeats 3 --json work_dirs/bench_pat.json
    python tools/benchmarks/bench_pat.py --repeats 3 --threads 1 --timer cpu --profile
    python tools/benchmarks/bench_pat.py --preset ViT-test --size 64 --memory-sizes 32 64
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

BASE_CONFIG = ROOT / 'configs/_base_/models/pat_vit-b16.py'
NUM_CLASSES = 150  # ADE-150
TARGETS = dict(train=1.35, infer=1.2, trainable_share=0.15, memory_slack=1.25)


# ---------------------------------------------------------------------------------- models
def model_configs(preset: str, size: int) -> tuple[dict, dict]:
    """PAT's and the baseline's model configs for ``preset`` (channels from the preset)."""
    from mmengine.config import Config

    from mmpat.models.clip import get_clip_preset

    clip = get_clip_preset(preset)
    width, embed = int(clip['vision_cfg']['width']), int(clip['embed_dim'])
    pat = copy.deepcopy(Config.fromfile(str(BASE_CONFIG)).model.to_dict())
    pat['backbone'].update(preset=preset, pretrained=None, out_indices=None)  # quarters
    pat['text_encoder'].update(preset=preset, pretrained=None, cache_dir=None)
    pat['data_preprocessor']['size'] = (size, size)
    pat['neck']['in_channels'] = [width] * 4
    pat['decode_head'].update(pyramid_channels=[width] * 4, embed_dims=embed)
    pat['test_cfg'] = dict(mode='whole')
    baseline = copy.deepcopy(pat)
    baseline.update(neck=None, auxiliary_head=None)
    baseline['decode_head']['token_channels'] = None
    return pat, baseline


def build_models(preset: str, size: int, seed: int = 0):
    """PAT and its baseline, sharing the frozen towers, with 150 random class embeddings."""
    import torch
    import torch.nn.functional as F
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    init_default_scope('mmseg')
    pat_cfg, base_cfg = model_configs(preset, size)
    torch.manual_seed(seed)
    pat = MODELS.build(pat_cfg)
    baseline = MODELS.build(base_cfg)
    baseline.backbone = pat.backbone  # the same frozen CLIP: same cost, half the memory
    baseline.text_encoder = pat.text_encoder
    embed = pat.decode_head.embed_dims
    generator = torch.Generator().manual_seed(seed)
    embeddings = F.normalize(torch.randn(NUM_CLASSES, embed, generator=generator), dim=-1)
    names = [f'class {i}' for i in range(NUM_CLASSES)]
    original = pat.text_encoder.encode_vocabulary
    pat.text_encoder.encode_vocabulary = lambda class_names, templates=None: embeddings.clone()
    for model in (pat, baseline):
        model.set_vocabulary(names)
    pat.text_encoder.encode_vocabulary = original
    return pat, baseline


def make_batch(size: int, batch: int, seed: int = 0) -> dict:
    """Random uint8 images and random ADE-150 label maps, as a dataloader gives them."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(
            torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=generator)
        )
        labels = torch.randint(0, NUM_CLASSES, (1, size, size), generator=generator)
        sample = SegDataSample(gt_sem_seg=PixelData(data=labels))
        shape = (size, size)
        sample.set_metainfo(dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def count_parameters(model) -> dict:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return dict(total=total, trainable=trainable, share=trainable / total)


def optim_wrapper(model):
    import torch
    from mmengine.optim import OptimWrapper

    params = [p for p in model.parameters() if p.requires_grad]
    return OptimWrapper(torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01))


# -------------------------------------------------------------------------------- timing
# Wall-clock by default; ``--timer cpu`` uses the process CPU time, which other processes on a
# shared machine disturb less (use it with ``--threads 1``: idle spinning threads count).
TIMER = {'fn': time.perf_counter}


def _timed(fn) -> float:
    start = TIMER['fn']()
    fn()
    return TIMER['fn']() - start


def interleaved(fns: dict, repeats: int, warmup: int) -> dict[str, list[float]]:
    """Seconds of each function, run in alternating order (A B B A ...) after warm-ups."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            times[name].append(_timed(fns[name]))
            print(f'  repeat {r + 1}: {name} {times[name][-1]:.3f}s', flush=True)
    return times


def bench_speed(pat, baseline, data: dict, repeats: int, warmup: int) -> dict:
    import torch

    wrappers = {id(pat): optim_wrapper(pat), id(baseline): optim_wrapper(baseline)}

    def train(model):
        def step():
            model.train()
            model.train_step(data, wrappers[id(model)])

        return step

    def infer(model):
        def step():
            model.eval()
            with torch.no_grad():
                model.test_step(data)

        return step

    fns = {
        'train PAT': train(pat),
        'train baseline': train(baseline),
        'infer PAT': infer(pat),
        'infer baseline': infer(baseline),
    }
    times = interleaved(fns, repeats, warmup)
    return {name: dict(median=statistics.median(t), all=t) for name, t in times.items()}


def profile_parts(pat, data: dict, repeats: int) -> list[dict]:
    """Seconds of PAT's own parts, each alone, on the backbone's features of ``data``.

    Per part: ``train`` (forward + backward, training mode: EMA updates included) and
    ``infer`` (eval-mode forward under ``no_grad``; None for the training-only pixel head).
    """
    import torch

    with torch.no_grad():
        inputs = pat.data_preprocessor(data, True)['inputs']
        feats = pat.backbone(inputs)
        neck = pat.neck.train()
        tokens = neck(feats)
    quantized = [q.detach().requires_grad_() for q in tokens['quantized']]
    token_features = tokens['token_features'].detach().requires_grad_()
    grid = feats['pyramid']

    def run(forward, train: bool):
        """forward() -> scalar; backward in training mode, no_grad + eval otherwise."""
        pat.train(train)
        if train:
            forward().backward()
        else:
            with torch.no_grad():
                forward()

    def tokenizer_without_decoder():
        decoder, neck.decoder = neck.decoder, None
        try:
            out = neck(feats)
        finally:
            neck.decoder = decoder
        return out['loss_vq'] + sum(q.mean() for q in out['quantized'])

    def rescales():
        maps = [r(p(f)) for f, p, r in zip(grid, neck.projections, neck.rescales)]
        return sum(m.mean() for m in maps)

    def lookup():
        for z, quantizer in zip(tokens['latents'], neck.quantizers):
            quantizer.nearest(z.detach().permute(0, 2, 3, 1).reshape(-1, z.shape[1]))
        return torch.zeros((), requires_grad=True)

    def decoder():
        return neck.decoder(quantized).mean()

    def pixel_head():
        head = pat.auxiliary_head
        return head.recon_loss(head(dict(token_features=token_features)), inputs)

    def token_projection():
        return pat.decode_head.token_proj(token_features).mean()

    parts = {
        'tokenizer without its decoder': (tokenizer_without_decoder, True),
        '  of which projections + rescales': (rescales, True),
        '  of which quantiser lookup (no grad)': (lookup, True),
        'shared decoder (TopDownFPN)': (decoder, True),
        'pixel head + L1 loss (training only)': (pixel_head, False),
        'semantic head token projection': (token_projection, True),
    }
    rows = []
    for name, (forward, at_inference) in parts.items():
        row = dict(part=name)
        for mode in ('train', 'infer'):
            if mode == 'infer' and not at_inference:
                row[mode] = None
                continue
            fn = lambda forward=forward, mode=mode: run(forward, mode == 'train')
            fn()  # warm-up
            row[mode] = statistics.median(_timed(fn) for _ in range(max(1, repeats)))
            pat.zero_grad(set_to_none=True)
        rows.append(row)
        infer = 'n/a' if row['infer'] is None else f'{row["infer"]:.3f}s'
        print(f'  profile: {name}: train {row["train"]:.3f}s, inference {infer}', flush=True)
    pat.train()
    return rows


# -------------------------------------------------------------------------------- memory
def _status_mib(field: str) -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024  # kB
    raise OSError(f'no {field} in /proc/self/status')


def reset_peak_rss() -> bool:
    """Reset the RSS high-water mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def memory_worker(preset: str, passes: list[tuple[str, int]], batch: int) -> list[dict]:
    """Peak RSS growth of tokenizer passes (runs in a fresh process, see the module doc)."""
    import gc

    import torch
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmpat  # noqa: F401
    from mmpat.models.clip import get_clip_preset

    init_default_scope('mmseg')
    clip = get_clip_preset(preset)
    width, patch = int(clip['vision_cfg']['width']), int(clip['vision_cfg']['patch_size'])
    torch.manual_seed(0)
    neck = MODELS.build(model_configs(preset, passes[0][1])[0]['neck'])

    def features(pixels: int) -> dict:
        grid = max(1, pixels // patch)
        return {'pyramid': [torch.randn(batch, width, grid, grid) for _ in range(4)]}

    def run(mode: str, feats: dict) -> None:
        neck.train(mode == 'train')
        if mode == 'train':
            out = neck(feats)
            (out['loss_vq'] + out['token_features'].mean()).backward()
            neck.zero_grad(set_to_none=False)  # keep the gradient buffers allocated
        else:
            with torch.no_grad():
                neck(feats)

    for mode in sorted({m for m, _ in passes}):  # lazy kernel init, data init, grad buffers
        run(mode, features(2 * patch))
    rows = []
    for mode, size in passes:
        feats = features(size)
        gc.collect()
        resettable = reset_peak_rss()
        base = _status_mib('VmRSS')
        high_before = _status_mib('VmHWM') if resettable else _maxrss_mib()
        run(mode, feats)
        peak = _status_mib('VmHWM') if resettable else _maxrss_mib()
        rows.append(
            dict(
                size=size,
                mode=mode,
                batch=batch,
                base_mib=base,
                peak_mib=peak,
                growth_mib=peak - base,
                method='VmHWM after clear_refs' if resettable else 'ru_maxrss',
                valid=resettable or peak > high_before,
            )
        )
        del feats
    return rows


def bench_memory(preset: str, sizes, batch: int, modes, threads: int) -> list[dict]:
    """Run :func:`memory_worker` in fresh processes: one for all passes when the peak can be
    reset, else one per pass (the high-water mark then only counts when the pass raises it)."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='131072', PYTHONPATH=str(ROOT))
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    passes = [f'{mode}:{size}' for mode in modes for size in sizes]
    groups = [passes] if reset_peak_rss() else [[p] for p in passes]
    rows = []
    for group in groups:
        command = [
            sys.executable, __file__, '--preset', preset, '--batch', str(batch),
            '--memory-worker', *group,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f'memory worker failed:\n{done.stderr[-3000:]}')
        rows += json.loads(done.stdout.strip().splitlines()[-1])
    for row in rows:
        print(
            f'  memory {row["mode"]} {row["size"]}px: +{row["growth_mib"]:.1f} MiB'
            f'{"" if row["valid"] else " (INVALID: the pass did not raise the peak)"}',
            flush=True,
        )
    return rows


# ---------------------------------------------------------------------------------- report
def _met(ok: bool) -> str:
    return 'yes' if ok else 'NO'


def summarise(speed: dict, params: dict, memory: list[dict], sizes) -> list[dict]:
    rows = []
    for key, label in (('train', 'training step'), ('infer', 'inference')):
        pat, base = speed[f'{key} PAT']['median'], speed[f'{key} baseline']['median']
        ratio = pat / base
        # The runs of one repeat are adjacent: their ratio cancels slow drifts of the machine.
        pairs = zip(speed[f'{key} PAT']['all'], speed[f'{key} baseline']['all'])
        paired = statistics.median(a / b for a, b in pairs)
        rows.append(
            dict(
                metric=f'{label} PAT / baseline',
                value=f'{pat:.3f}s / {base:.3f}s = {ratio:.3f}x (paired {paired:.3f}x)',
                target=f'<= {TARGETS[key]}x',
                met=ratio <= TARGETS[key],
                ratio=ratio,
                paired_ratio=paired,
            )
        )
    p = params['PAT']
    rows.append(
        dict(
            metric='PAT trainable / total parameters',
            value=f'{p["trainable"]:,} / {p["total"]:,} = {100 * p["share"]:.2f}%',
            target=f'<= {100 * TARGETS["trainable_share"]:.0f}%',
            met=p['share'] <= TARGETS['trainable_share'],
        )
    )
    small, large = min(sizes), max(sizes)
    pixel_ratio = (large / small) ** 2
    for mode in sorted({m['mode'] for m in memory}, reverse=True):
        by_size = {m['size']: m for m in memory if m['mode'] == mode}
        lo, hi = by_size[small], by_size[large]
        ratio = hi['growth_mib'] / max(lo['growth_mib'], 1e-6)
        valid = lo['valid'] and hi['valid']
        rows.append(
            dict(
                metric=f'tokenizer peak memory ({mode}), {large}px / {small}px',
                value=f'{hi["growth_mib"]:.1f} / {lo["growth_mib"]:.1f} MiB = {ratio:.2f}x'
                f' (pixels {pixel_ratio:.2f}x){"" if valid else " INVALID"}',
                target=f'~{pixel_ratio:.2f}x (<= {TARGETS["memory_slack"] * pixel_ratio:.2f}x)',
                met=valid and ratio <= TARGETS['memory_slack'] * pixel_ratio,
            )
        )
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', default='ViT-B-16', help="CLIP preset ('ViT-test': tiny)")
    parser.add_argument('--size', type=int, default=512, help='input size (square)')
    parser.add_argument('--batch', type=int, default=1, help='images per step (1 or 2)')
    parser.add_argument('--repeats', type=int, default=3, help='timed runs (median)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed runs of each first')
    parser.add_argument('--memory-sizes', type=int, nargs=2, default=[256, 512])
    parser.add_argument(
        '--memory-modes', nargs='+', choices=['train', 'infer'], default=['train', 'infer']
    )
    parser.add_argument('--skip-memory', action='store_true')
    parser.add_argument('--profile', action='store_true', help="time PAT's own parts alone")
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    parser.add_argument('--timer', choices=['wall', 'cpu'], default='wall')
    parser.add_argument('--json', default=None, help='write the results to this file')
    parser.add_argument('--memory-worker', nargs='+', default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    TIMER['fn'] = time.process_time if args.timer == 'cpu' else time.perf_counter
    if args.memory_worker:  # MODE:SIZE ...
        passes = [(p.split(':')[0], int(p.split(':')[1])) for p in args.memory_worker]
        rows = memory_worker(args.preset, passes, args.batch)
        print(json.dumps(rows))
        return rows
    import mmpat  # noqa: F401

    print(
        f'torch {torch.__version__}, {torch.get_num_threads()} threads, preset {args.preset}, '
        f'{args.size}x{args.size}, batch {args.batch}, {NUM_CLASSES} classes, {args.timer} time, '
        f'{args.repeats} repeats (median), {args.warmup} warm-up',
        flush=True,
    )
    start = time.perf_counter()
    pat, baseline = build_models(args.preset, args.size)
    data = make_batch(args.size, args.batch)
    params = {'PAT': count_parameters(pat), 'baseline': count_parameters(baseline)}
    print(f'  built in {time.perf_counter() - start:.1f}s', flush=True)
    speed = bench_speed(pat, baseline, data, args.repeats, args.warmup)
    profile = profile_parts(pat, data, args.repeats) if args.profile else []
    memory = []
    if not args.skip_memory:
        memory = bench_memory(
            args.preset, args.memory_sizes, args.batch, args.memory_modes, args.threads
        )
    rows = summarise(speed, params, memory, args.memory_sizes)

    print('\n| measure | PAT | baseline |')
    print('|---|---|---|')
    for key, label in (('train', 'training step (s)'), ('infer', 'inference (s)')):
        pat_t, base_t = speed[f'{key} PAT']['median'], speed[f'{key} baseline']['median']
        print(f'| {label} | {pat_t:.3f} | {base_t:.3f} |')
    for key in ('trainable', 'total'):
        print(f'| {key} parameters | {params["PAT"][key]:,} | {params["baseline"][key]:,} |')
    extra = params['PAT']['trainable'] - params['baseline']['trainable']
    print(f'| PAT-only trainable parameters | {extra:,} | |')
    if memory:
        print('\n| tokenizer pass | input | peak RSS growth (MiB) | MiB per megapixel |')
        print('|---|---|---|---|')
        for m in memory:
            mpx = args.batch * m['size'] ** 2 / 1e6
            flag = '' if m['valid'] else ' (invalid)'
            print(
                f'| {m["mode"]} | {args.batch}x{m["size"]}x{m["size"]} | '
                f'{m["growth_mib"]:.1f}{flag} | {m["growth_mib"] / mpx:.0f} |'
            )
    if profile:
        train_extra = speed['train PAT']['median'] - speed['train baseline']['median']
        infer_extra = speed['infer PAT']['median'] - speed['infer baseline']['median']
        print(
            f'\nPAT overhead: training step {train_extra:.3f}s, inference {infer_extra:.3f}s; '
            'its parts alone:'
        )
        print('| PAT part | training (forward + backward, s) | inference (forward, s) |')
        print('|---|---|---|')
        for p in profile:
            infer = '-' if p['infer'] is None else f'{p["infer"]:.3f}'
            print(f'| {p["part"]} | {p["train"]:.3f} | {infer} |')
    print('\n| target | value | target | met |')
    print('|---|---|---|---|')
    for r in rows:
        print(f'| {r["metric"]} | {r["value"]} | {r["target"]} | {_met(r["met"])} |')
    result = dict(
        preset=args.preset,
        size=args.size,
        batch=args.batch,
        repeats=args.repeats,
        threads=torch.get_num_threads(),
        timer=args.timer,
        torch=torch.__version__,
        speed=speed,
        parameters=params,
        memory=memory,
        profile=profile,
        targets=rows,
    )
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'\nwrote {args.json}')
    return result


if __name__ == '__main__':
    main()
