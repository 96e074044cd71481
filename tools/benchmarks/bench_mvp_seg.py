"""Benchmark the cost of learning MVP-SEG's prompts: the text encoder in the training step.

The model comes from ``configs/_base_/models/mvp-seg_vit-b16.py`` with random weights
(``pretrained=None``; ``--preset`` picks the CLIP), k=3 prompts + the global one, the ADE-150
vocabulary (150 real class names, so the token lengths are real). Measured on random images
(``--size``, ``--batch``), CPU, interleaved after warm-ups (medians of ``--repeats``):

1. ``train``: ``model.train_step`` (preprocessor, frozen image encoder, the 4 x 150 prompted
   texts through the frozen text encoder, forward and backward to the context vectors, losses,
   AdamW step);
2. ``train, text precomputed``: the same step with the prompt embeddings computed once
   beforehand (what the step would cost if the prompts did not change): the text encoder's
   share of the step is ``1 - (2) / (1)``;
3. text encoder alone, forward + backward to the context: ours (``encode_with_prompts``: the
   start token + context prefix run once per prompt, then only the class-name tokens of every
   (prompt, class) row on top of the prefix keys/values, rows sorted by length and run to their
   EOT, tokens memoised), the full batched pass (``_encode_with_prompts_full``: every row in
   full, to the longest EOT) and the plain way (each prompt separately over all 77 positions,
   re-tokenised every step, as a CoOp port would do).

Example::

    python tools/benchmarks/bench_mvp_seg.py --repeats 3 --json work_dirs/bench_mvp_seg.json
    python tools/benchmarks/bench_mvp_seg.py --preset ViT-test --size 64 --repeats 1
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.benchmarks.bench_pat import TIMER, interleaved, make_batch, optim_wrapper  # noqa: E402

BASE_CONFIG = ROOT / 'configs/_base_/models/mvp-seg_vit-b16.py'


def build_model(preset: str, size: int, seed: int = 0):
    """MVP-SEG with random weights for ``preset`` and the ADE-150 vocabulary."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from mmpat.datasets.class_names import ADE150_CLASSES

    init_default_scope('mmseg')
    cfg = copy.deepcopy(Config.fromfile(str(BASE_CONFIG)).model.to_dict())
    cfg['backbone'].update(preset=preset, pretrained=None, out_indices=None)
    cfg['text_encoder'].update(preset=preset, pretrained=None, cache_dir=None)
    cfg['data_preprocessor']['size'] = (size, size)
    cfg['test_cfg'] = dict(mode='whole')
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.set_vocabulary(list(ADE150_CLASSES))
    return model


def plain_prompt_encoding(encoder, contexts, class_names):
    """The reference way: per prompt, tokenise all names and run all 77 positions."""
    import torch
    import torch.nn.functional as F

    from mmpat.models.text_encoders.openclip_text_encoder import clip_tokenizer

    tok = clip_tokenizer()
    n_ctx = contexts.shape[1]
    outs = []
    for context in contexts:
        tokens = torch.zeros(len(class_names), encoder.context_length, dtype=torch.long)
        for row, name in enumerate(class_names):
            ids = [tok.sot_token_id, *([0] * n_ctx), *tok.encode(name + '.'), tok.eot_token_id]
            tokens[row, : len(ids)] = torch.tensor(ids)
        embedded = encoder.text.token_embedding(tokens)
        x = torch.cat(
            [
                embedded[:, :1],
                context[None].expand(len(class_names), -1, -1),
                embedded[:, 1 + n_ctx :],
            ],
            dim=1,
        )
        outs.append(F.normalize(encoder._run(x, tokens.argmax(dim=-1)), dim=-1))
    return torch.stack(outs)


def bench(model, data: dict, repeats: int, warmup: int) -> dict:
    import torch

    from mmpat.utils.vocabulary import primary_name

    head = model.decode_head
    wrapper = optim_wrapper(model)
    contexts = lambda: torch.cat([head.global_context, head.seg_context])  # noqa: E731

    def train():
        model.train()
        model.train_step(data, wrapper)

    with torch.no_grad():
        fixed = model.encode_prompts(contexts())
    original = model.encode_prompts

    def train_precomputed():
        model.encode_prompts = lambda _contexts: fixed
        try:
            train()
        finally:
            model.encode_prompts = original

    names = model.class_names
    firsts = [primary_name(n) for n in names]  # ADE-150 names have no synonyms

    def text_ours():
        out = model.text_encoder.encode_with_prompts(contexts(), names)
        out.sum().backward()

    def text_full():
        out = model.text_encoder._encode_with_prompts_full(contexts(), names)
        out.sum().backward()

    def text_plain():
        # one prompt at a time, each backward at once: all four graphs at 77 tokens together
        # need over 20 GB for ViT-B-16 and 150 classes
        for index in range(contexts().shape[0]):
            out = plain_prompt_encoding(model.text_encoder, contexts()[index : index + 1], firsts)
            out.sum().backward()

    with torch.no_grad():  # the text paths agree (up to float rounding)
        ours = model.text_encoder.encode_with_prompts(contexts(), names)
        gap = (plain_prompt_encoding(model.text_encoder, contexts(), firsts) - ours).abs().max()
        gap_full = model.text_encoder._encode_with_prompts_full(contexts(), names) - ours
        gap_full = gap_full.abs().max()
    steps = interleaved(dict(train=train, train_precomputed=train_precomputed), repeats, warmup)
    texts = interleaved(
        dict(text_ours=text_ours, text_full=text_full, text_plain=text_plain), repeats, warmup
    )
    med = {k: statistics.median(v) for k, v in {**steps, **texts}.items()}
    return dict(
        seconds=med,
        text_share_of_step=1 - med['train_precomputed'] / med['train'],
        step_vs_precomputed=med['train'] / med['train_precomputed'],
        plain_vs_ours_text=med['text_plain'] / med['text_ours'],
        full_vs_ours_text=med['text_full'] / med['text_ours'],
        max_abs_gap_plain_vs_ours=float(gap),
        max_abs_gap_full_vs_ours=float(gap_full),
        prompts=int(contexts().shape[0]),
        classes=len(names),
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--preset', default='ViT-B-16', help='CLIP preset')
    parser.add_argument('--size', type=int, default=512, help='image side')
    parser.add_argument('--batch', type=int, default=2, help='images per step')
    parser.add_argument('--repeats', type=int, default=3, help='timed runs of each')
    parser.add_argument('--warmup', type=int, default=1, help='untimed runs of each')
    parser.add_argument('--threads', type=int, default=None, help='torch threads')
    parser.add_argument('--timer', choices=['wall', 'cpu'], default='wall', help='clock')
    parser.add_argument('--json', default=None, help='write the results here')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    import time

    import torch

    import mmpat  # noqa: F401

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    TIMER['fn'] = time.process_time if args.timer == 'cpu' else time.perf_counter
    model = build_model(args.preset, args.size)
    data = make_batch(args.size, args.batch)
    for sample in data['data_samples']:  # ADE-150 labels: keep them inside the vocabulary
        sample.gt_sem_seg.data %= len(model.class_names)
    result = bench(model, data, args.repeats, args.warmup)
    result.update(
        preset=args.preset, size=args.size, batch=args.batch, threads=torch.get_num_threads()
    )
    s = result['seconds']
    print(
        f'\nMVP-SEG {args.preset}, {result["classes"]} classes, {result["prompts"]} prompts, '
        f'{args.batch} x {args.size}px, {result["threads"]} threads ({args.timer} clock)'
    )
    print('| measure | seconds | ratio |')
    print('|---|---|---|')
    print(
        f'| training step | {s["train"]:.3f} | {result["step_vs_precomputed"]:.2f}x precomputed |'
    )
    print(f'| training step, text precomputed | {s["train_precomputed"]:.3f} | 1.00 |')
    print(f'| text encoder share of the step | | {result["text_share_of_step"]:.1%} |')
    print(f'| text fwd+bwd, ours (prefix once per prompt) | {s["text_ours"]:.3f} | 1.00 |')
    print(f'| text fwd+bwd, full rows (batched, to EOT) | {s["text_full"]:.3f} | '
          f'{result["full_vs_ours_text"]:.2f}x ours |')  # fmt: skip
    print(f'| text fwd+bwd, plain (per prompt, 77 tokens) | {s["text_plain"]:.3f} | '
          f'{result["plain_vs_ours_text"]:.2f}x ours |')  # fmt: skip
    print(f'max |plain - ours| embedding difference: {result["max_abs_gap_plain_vs_ours"]:.2e}')
    print(f'max |full - ours| embedding difference: {result["max_abs_gap_full_vs_ours"]:.2e}')
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
