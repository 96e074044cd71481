"""Benchmark the CLIP core against open_clip on the same (random) weights, in the same run.

1. Image: ``CLIPPyramid`` forward (pyramid + dense + global) vs open_clip's own image-tower
   forward, ViT-B-16 at 224 and 448 (open_clip gets a tower built for that size with the same
   resized positional embedding), batch 1 and 8, CPU, ``torch.no_grad``. Repeats are
   interleaved (ABBA order) and the medians compared.
2. Text: ``OpenCLIPTextEncoder.encode_vocabulary`` vs open_clip ``encode_text`` on the same
   prompts (tokenize, batches of ``--text-batch``, the same template/synonym averaging), with
   the max abs difference of the per-prompt embeddings and of the vocabulary embeddings.
3. ``--full-vocab``: A-847 x 80 ImageNet templates with ``OpenCLIPTextEncoder`` alone: time,
   peak RSS growth, then the same call again from the on-disk cache (speed-up).

Example::

    python tools/benchmarks/bench_clip.py --repeats 5 --out work_dirs/bench_clip.json
    python tools/benchmarks/bench_clip.py --skip-image --full-vocab --cache-dir /tmp/vocab_cache

``--out FILE`` writes the tables' rows as ``mmpat-refbench/1`` JSON for the leaderboard (one row
per comparison: what, ours and the reference in ms, their ratio, the parity check).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import threading
import time

import torch
import torch.nn.functional as F

from mmpat.apis.benchmarking import refbench_row, write_refbench
from mmpat.models.backbones import CLIPPyramid
from mmpat.models.backbones.clip_pyramid import build_clip_visual, resize_grid_embedding
from mmpat.models.clip import build_open_clip, get_clip_preset
from mmpat.models.text_encoders import OpenCLIPTextEncoder
from mmpat.models.text_encoders.templates import get_templates

# Wall-clock by default; ``--timer cpu`` uses the process CPU time, less sensitive to other
# processes on a shared machine (use it with ``--threads 1``: idle spinning threads count).
TIMER = {'fn': time.perf_counter}


def _timed(fn) -> float:
    start = TIMER['fn']()
    fn()
    return TIMER['fn']() - start


def interleaved_medians(fn_a, fn_b, repeats: int) -> tuple[float, float]:
    """Median seconds of ``fn_a`` and ``fn_b``, run alternately (A B B A ...) after a warm-up."""
    fn_a(), fn_b()
    times_a, times_b = [], []
    for r in range(repeats):
        if r % 2 == 0:
            times_a.append(_timed(fn_a))
            times_b.append(_timed(fn_b))
        else:
            times_b.append(_timed(fn_b))
            times_a.append(_timed(fn_a))
    return statistics.median(times_a), statistics.median(times_b)


def bench_image(preset: str, sizes, batches, repeats: int) -> list[dict]:
    torch.manual_seed(0)
    reference = build_open_clip(preset).visual.eval()
    backbone = CLIPPyramid(preset=preset).eval()
    backbone.visual.load_state_dict(reference.state_dict())
    native = reference.grid_size
    rows = []
    for size in sizes:
        cfg = get_clip_preset(preset)
        cfg['vision_cfg']['image_size'] = size
        tower = build_clip_visual(cfg).eval()
        state = dict(reference.state_dict())
        grid = (size // backbone.patch_size, size // backbone.patch_size)
        state['positional_embedding'] = resize_grid_embedding(
            state['positional_embedding'], native, grid
        )
        tower.load_state_dict(state)
        for batch in batches:
            x = torch.randn(batch, 3, size, size)
            with torch.no_grad():
                diff = (backbone(x)['global'] - tower(x)).abs().max().item()
                ours, theirs = interleaved_medians(
                    lambda x=x: backbone(x), lambda x=x, t=tower: t(x), repeats
                )
            rows.append(
                dict(
                    size=size,
                    batch=batch,
                    ours=ours,
                    open_clip=theirs,
                    ratio=ours / theirs,
                    diff=diff,
                )
            )
            print(
                f'  image {size}px batch {batch}: CLIPPyramid {ours:.3f}s, open_clip {theirs:.3f}s,'
                f' ratio {ours / theirs:.3f}',
                flush=True,
            )
    return rows


def _reference_vocabulary(model, classes, templates, batch_size: int):
    """open_clip encode_text on full 77-token prompts, same averaging as the encoder."""
    from open_clip import tokenize

    prompts, owners = [], []
    for c, entry in enumerate(classes):
        synonyms = [s.strip() for s in entry.split(',') if s.strip()]
        for s, name in enumerate(synonyms):
            for t in templates:
                prompts.append(t.format(name))
                owners.append((c, s))
    raw = []
    for start in range(0, len(prompts), batch_size):
        raw.append(model.encode_text(tokenize(prompts[start : start + batch_size])))
    raw = torch.cat(raw)
    sums: dict = {}
    for emb, owner in zip(F.normalize(raw, dim=-1), owners):
        sums[owner] = sums.get(owner, 0) + emb
    out = []
    for c in range(len(classes)):
        syn = [F.normalize(v, dim=-1) for (cc, _), v in sums.items() if cc == c]
        out.append(F.normalize(torch.stack(syn).sum(0), dim=-1))
    return torch.stack(out), raw, prompts


def bench_text(preset: str, num_classes: int, templates_name: str, batch_size: int, repeats: int):
    from mmpat.datasets.class_names import ADE847_CLASSES

    torch.manual_seed(0)
    model = build_open_clip(preset).eval()
    encoder = OpenCLIPTextEncoder(preset=preset, templates=templates_name, batch_size=batch_size)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(('visual.', 'logit'))}
    encoder.text.load_state_dict(state)
    classes = list(ADE847_CLASSES[:num_classes])
    templates = get_templates(templates_name)
    with torch.no_grad():
        vocab = encoder.encode_vocabulary(classes)
        ref_vocab, ref_raw, prompts = _reference_vocabulary(model, classes, templates, batch_size)
        ours_raw = torch.cat(
            [
                encoder.encode_tokens(encoder.tokenize(prompts[s : s + batch_size]))
                for s in range(0, len(prompts), batch_size)
            ]
        )
        prompt_diff = (ours_raw - ref_raw).abs().max().item()
        vocab_diff = (vocab - ref_vocab).abs().max().item()
        ours, theirs = interleaved_medians(
            lambda: encoder.encode_vocabulary(classes),
            lambda: _reference_vocabulary(model, classes, templates, batch_size),
            repeats,
        )
    return dict(
        classes=len(classes),
        templates=len(templates),
        prompts=len(prompts),
        ours=ours,
        open_clip=theirs,
        speedup=theirs / ours,
        prompt_diff=prompt_diff,
        vocab_diff=vocab_diff,
    )


def _rss_mib() -> float:
    """Current resident set size (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakRSS:
    """Samples the RSS in a thread (every 20 ms) while the ``with`` block runs."""

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = _rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mib())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mib())


def bench_full_vocab(preset: str, batch_size: int, cache_dir: str | None) -> dict:
    from mmpat.datasets.class_names import ADE847_CLASSES

    cache_dir = cache_dir or tempfile.mkdtemp(prefix='mmpat_vocab_cache_')
    encoder = OpenCLIPTextEncoder(
        preset=preset, templates='imagenet', batch_size=batch_size, cache_dir=cache_dir
    )
    with torch.no_grad(), PeakRSS() as rss:
        start = time.perf_counter()
        first = encoder.encode_vocabulary(list(ADE847_CLASSES))
        encode_s = time.perf_counter() - start
    with torch.no_grad():
        fresh = OpenCLIPTextEncoder(preset=preset, templates='imagenet', cache_dir=cache_dir)
        fresh.load_state_dict(encoder.state_dict())
        start = time.perf_counter()
        second = fresh.encode_vocabulary(list(ADE847_CLASSES))
        cached_s = time.perf_counter() - start
    assert torch.equal(first, second)
    prompts = sum(len([s for s in c.split(',') if s.strip()]) for c in ADE847_CLASSES) * 80
    return dict(
        prompts=prompts,
        encode_s=encode_s,
        cached_s=cached_s,
        speedup=encode_s / cached_s,
        rss_growth_mib=rss.peak - rss.start,
        cache_dir=cache_dir,
    )


# What each comparison runs: (ours, the reference, the key of its parity check).
COMPARED = {
    'image': ('CLIPPyramid', 'open_clip visual', 'diff'),
    'text': ('OpenCLIPTextEncoder.encode_vocabulary', 'open_clip encode_text', 'vocab_diff'),
}


def compared_row(kind: str, benchmark: str, result: dict) -> dict:
    """A refbench row of :func:`bench_image` / :func:`bench_text` (see :data:`COMPARED`)."""
    ours, reference, diff = COMPARED[kind]
    return refbench_row(
        benchmark,
        ours=ours,
        reference=reference,
        ours_s=result['ours'],
        reference_s=result['open_clip'],
        max_abs_diff=result[diff],
    )


def full_vocab_row(f: dict) -> dict:
    """A refbench row of :func:`bench_full_vocab`: the cache against encoding."""
    row = refbench_row(
        f'A-847 x 80 templates ({f["prompts"]} prompts): on-disk cache vs encoding',
        ours='OpenCLIPTextEncoder, cached',
        reference='OpenCLIPTextEncoder, encoding',
        ours_s=f['cached_s'],
        reference_s=f['encode_s'],
    )
    row['rss_growth_mib'] = f['rss_growth_mib']
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', default='ViT-B-16')
    parser.add_argument('--sizes', type=int, nargs='+', default=[224, 448])
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--text-classes', type=int, default=100, help='first A-847 classes')
    parser.add_argument('--text-templates', default='vild')
    parser.add_argument('--text-batch', type=int, default=256)
    parser.add_argument('--text-repeats', type=int, default=3)
    parser.add_argument('--skip-image', action='store_true')
    parser.add_argument('--skip-text', action='store_true')
    parser.add_argument('--full-vocab', action='store_true', help='A-847 x 80 templates + cache')
    parser.add_argument('--cache-dir', default=None)
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    parser.add_argument('--timer', choices=['wall', 'cpu'], default='wall')
    parser.add_argument('--out', help='write the rows as mmpat-refbench/1 JSON here')
    args = parser.parse_args(argv)
    if args.timer == 'cpu':
        TIMER['fn'] = time.process_time
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f'torch {torch.__version__}, {torch.get_num_threads()} threads, preset {args.preset}, '
        f'{args.timer} time, {args.repeats} repeats (median)'
    )
    out_rows: list[dict] = []
    if not args.skip_image:
        rows = bench_image(args.preset, args.sizes, args.batches, args.repeats)
        out_rows += [
            compared_row('image', f'image {r["size"]}px, batch {r["batch"]}', r) for r in rows
        ]
        print('\n| input | batch | CLIPPyramid (s) | open_clip (s) | ratio | global max abs diff |')
        print('|---|---|---|---|---|---|')
        for r in rows:
            print(
                f'| {r["size"]} | {r["batch"]} | {r["ours"]:.3f} | {r["open_clip"]:.3f} | '
                f'{r["ratio"]:.3f} | {r["diff"]:.1e} |'
            )
    if not args.skip_text:
        t = bench_text(
            args.preset, args.text_classes, args.text_templates, args.text_batch, args.text_repeats
        )
        what = f'text: {t["classes"]} classes x {t["templates"]} templates ({t["prompts"]} prompts)'
        out_rows.append(compared_row('text', what, t))
        print(
            '\n| classes x templates (prompts) | OpenCLIPTextEncoder (s) | '
            'open_clip encode_text (s) | speed-up | per-prompt max abs diff | '
            'vocabulary max abs diff |'
        )
        print('|---|---|---|---|---|---|')
        print(
            f'| {t["classes"]} x {t["templates"]} ({t["prompts"]}) | {t["ours"]:.2f} | '
            f'{t["open_clip"]:.2f} | {t["speedup"]:.2f}x | {t["prompt_diff"]:.1e} | '
            f'{t["vocab_diff"]:.1e} |'
        )
    if args.full_vocab:
        f = bench_full_vocab(args.preset, args.text_batch, args.cache_dir)
        out_rows.append(full_vocab_row(f))
        print(
            '\n| A-847 x 80 prompts | encode (s) | peak RSS growth (MiB) | from cache (s) | '
            'speed-up |'
        )
        print('|---|---|---|---|---|')
        print(
            f'| {f["prompts"]} | {f["encode_s"]:.1f} | {f["rss_growth_mib"]:.0f} | '
            f'{f["cached_s"]:.3f} | {f["speedup"]:.0f}x |'
        )
    if args.out:
        write_refbench(
            args.out,
            tool='bench_clip',
            title=f'CLIP core vs open_clip ({args.preset}, same random weights)',
            rows=out_rows,
            preset=args.preset,
            threads=torch.get_num_threads(),
            timer=args.timer,
            repeats=args.repeats,
        )
        print(f'written: {args.out}')


if __name__ == '__main__':
    main()
