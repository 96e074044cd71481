"""Smoke run of tools/benchmarks/bench_mvp_seg.py with the tiny 'ViT-test' preset: it runs to the
end, its three text paths agree and its ratios are finite (timings are not asserted)."""

from __future__ import annotations

import json
import math

import torch
from helpers.tools import load_tool


def test_bench_mvp_seg_smoke(tmp_path):
    bench = load_tool('tools/benchmarks/bench_mvp_seg.py')
    out_json = tmp_path / 'bench.json'
    threads = torch.get_num_threads()
    try:
        result = bench.main(
            ['--preset', 'ViT-test', '--size', '64', '--repeats', '1', '--threads', '1',
             '--json', str(out_json)]
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert result['max_abs_gap_plain_vs_ours'] < 1e-5
    assert result['max_abs_gap_full_vs_ours'] < 1e-5
    assert result['prompts'] == 4 and result['classes'] == 150
    assert all(math.isfinite(v) and v > 0 for v in result['seconds'].values())
    assert json.loads(out_json.read_text())['classes'] == 150
