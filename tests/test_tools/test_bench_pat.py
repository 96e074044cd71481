"""Smoke run of tools/benchmarks/bench_pat.py with the tiny 'ViT-test' preset: it runs to the end,
prints its tables with finite numbers and writes its JSON (timings are not asserted: the machine
is shared; the tiny preset's ratios mean nothing)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from helpers.tools import load_tool

ROOT = Path(__file__).resolve().parents[2]


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip('|').split('|')]
        for line in text.splitlines()
        if line.startswith(f'| {first_cell}')
    ]


def test_bench_pat_smoke(capsys, tmp_path):
    bench = load_tool('tools/benchmarks/bench_pat.py')
    out_json = tmp_path / 'bench.json'
    threads = torch.get_num_threads()
    try:
        result = bench.main(
            [
                '--preset', 'ViT-test', '--size', '32', '--repeats', '1', '--threads', '1',
                '--memory-sizes', '32', '64', '--profile', '--json', str(out_json),
            ]
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)  # main sets it for the whole process
    out = capsys.readouterr().out
    (train,) = table_rows(out, 'training step (s)')
    (infer,) = table_rows(out, 'inference (s)')
    assert all(float(v) > 0 for v in train[1:] + infer[1:])
    pat, baseline = result['parameters']['PAT'], result['parameters']['baseline']
    assert pat['total'] > baseline['total'] and pat['trainable'] > baseline['trainable']
    assert 0 < pat['share'] < 1 and pat['total'] - pat['trainable'] > 0  # the frozen towers
    memory = {(m['mode'], m['size']): m for m in result['memory']}
    assert set(memory) == {('train', 32), ('train', 64), ('infer', 32), ('infer', 64)}
    assert all(m['valid'] and math.isfinite(m['growth_mib']) for m in memory.values())
    targets = table_rows(out, 'training step PAT / baseline') + table_rows(out, 'inference PAT')
    targets += table_rows(out, 'PAT trainable') + table_rows(out, 'tokenizer peak memory')
    assert len(targets) == 5 and all(row[3] in ('yes', 'NO') for row in targets)
    parts = {p['part'].strip(): p for p in result['profile']}
    assert parts['shared decoder (TopDownFPN)']['train'] > 0
    assert parts['pixel head + L1 loss (training only)']['infer'] is None
    assert len(table_rows(out, 'tokenizer without its decoder')) == 1
    saved = json.loads(out_json.read_text())
    assert saved['preset'] == 'ViT-test' and len(saved['targets']) == 5
    assert saved['speed']['train PAT']['median'] > 0


def test_baseline_config_drops_the_tokenizer():
    bench = load_tool('tools/benchmarks/bench_pat.py')
    pat, baseline = bench.model_configs('ViT-B-16', 512)
    assert pat['neck']['type'] == 'PyramidTokenizer' and pat['neck']['in_channels'] == [768] * 4
    assert pat['backbone']['pretrained'] is None and pat['text_encoder']['pretrained'] is None
    assert baseline['neck'] is None and baseline['auxiliary_head'] is None
    assert baseline['decode_head']['token_channels'] is None
    assert pat['decode_head']['token_channels'] == 128 and pat['test_cfg'] == dict(mode='whole')
