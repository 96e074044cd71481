"""Smoke runs of the benchmark scripts and the main job on tiny inputs: they run to the end and
print their tables with finite numbers and the parity checks they make (timings are not
asserted: the machine is shared)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.tools import load_tool

ROOT = Path(__file__).resolve().parents[2]


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip('|').split('|')]
        for line in text.splitlines()
        if line.startswith(f'| {first_cell}')
    ]


def test_bench_clip_smoke(capsys):
    bench = load_tool('tools/benchmarks/bench_clip.py')
    bench.main(
        [
            '--preset', 'ViT-test', '--sizes', '32', '--batches', '1', '--repeats', '1',
            '--text-classes', '4', '--text-repeats', '1',
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    (image,) = table_rows(out, '32 ')
    assert float(image[4]) > 0 and float(image[5]) < 1e-5  # ratio, global-embedding parity
    (text,) = table_rows(out, '4 x 14')  # 4 classes x the 14 ViLD templates
    assert float(text[4]) < 1e-5 and float(text[5]) < 1e-5  # per-prompt and vocabulary parity


def test_bench_groupvit_smoke(capsys):
    pytest.importorskip('transformers')
    bench = load_tool('tools/benchmarks/bench_groupvit.py')
    assert bench.main(['--repeats', '1', '--batch', '1', '--skip-slide']) == 0
    out = capsys.readouterr().out
    diff = float(re.search(r'embedding diff ([0-9.e+-]+)', out).group(1))
    assert diff < 1e-4  # the benchmark compares the same weights
    assert len(table_rows(out, 'image+text forward')) == 2


@pytest.mark.slow
def test_main_job_and_leaderboard_smoke(tmp_path):
    """The README's main job (with --groupvit) on a few scenes and a few iterations, inside
    `make leaderboard` (tools/run_leaderboard.py: results files, speed, FLOPs, the table)."""
    board_dir = tmp_path / 'board'
    work = board_dir / 'main'
    command = [
        sys.executable, 'tools/run_leaderboard.py', '--work-dir', str(board_dir), '--repeat', '1',
        '--vit-clip-dir', str(tmp_path / 'vit-clip'),
        '--data', str(tmp_path / 'scenes'), '--clip-dir', str(tmp_path / 'clip'),
        '--num-pretrain', '64', '--num-train', '4', '--num-val', '6',
        '--clip-iters', '4', '--groupvit', '--groupvit-iters', '2',
        '--groupvit-dir', str(tmp_path / 'groupvit'),
        '--pat-iters', '2', '--train-dir', str(tmp_path / 'pat'),
        '--mvp-seg-iters', '2', '--mvp-seg-plus-iters', '2',
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((work / 'summary.json').read_text())
    accuracy = summary['clip']['zero_shot_classification']
    assert set(accuracy) >= {'acc_seen', 'acc_unseen', 'chance'}
    metrics = summary['dense_clip']['metrics']
    assert any(k.endswith('hIoU') for k in metrics)
    trivial = summary['trivial_most_frequent_class']
    assert trivial['class'] == 'background' and 0 < trivial['mIoU'] < 100
    assert '(trivial)' in done.stdout
    assert (tmp_path / 'groupvit' / 'iter_2.pth').is_file()
    assert any(k.endswith('hIoU') for k in summary['groupvit']['metrics'])
    assert 'GroupViT (captions only)' in done.stdout
    for key, config in (
        ('pat', 'pat_clip-tiny_scenes'),
        ('pat_baseline', 'pat-baseline_clip-tiny_scenes'),
    ):
        assert (tmp_path / 'pat' / config / 'iter_2.pth').is_file()
        assert set(summary[key]['metrics']) >= {'mIoU', 'mIoU_seen', 'mIoU_unseen', 'hIoU'}
    assert 'PAT baseline (no tokens)' in done.stdout and '\nPAT ' in done.stdout
    for key, config in (
        ('mvp_seg', 'mvp-seg_clip-tiny_scenes'),
        ('mvp_seg_plus', 'mvp-seg-plus_clip-tiny-d8_scenes'),
    ):
        assert (tmp_path / 'pat' / config / 'iter_2.pth').is_file()
        assert set(summary[key]['metrics']) >= {'mIoU', 'mIoU_seen', 'mIoU_unseen', 'hIoU'}
    assert 'MVP-SEG+ (transductive)' in done.stdout
    logs = list((tmp_path / 'pat' / 'mvp-seg-plus_clip-tiny-d8_scenes').glob('*/*.log'))
    assert any('switched to self-training' in log.read_text() for log in logs)
    assert Path(summary['pat']['tokens_figure']).stat().st_size > 0
    assert (work / 'overlay_val.png').stat().st_size > 0
    assert (tmp_path / 'clip' / 'clip_tiny.pth').is_file()
    assert 'overlay:' in done.stdout
    # a log a newcomer can read: one line per tool run, the full logs in files
    assert len(list((work / 'logs').glob('*.log'))) >= 12
    assert len(done.stdout.splitlines()) < 200, len(done.stdout.splitlines())
    assert re.search(
        r'torch threads per process: \d+; trainings side by side: \d+; full logs: ', done.stdout
    )
    assert (tmp_path / 'vit-clip' / 'clip_tiny.pth').is_file()  # the ViT variants' own CLIP
    # the leaderboard: one results file per row (trivial included), costs per config
    results = board_dir / 'results'
    rows = {'trivial', 'dense_clip', 'pat', 'pat_baseline', 'mvp_seg', 'mvp_seg_plus', 'groupvit'}
    rows |= {'dense_clip_vit', 'sclip', 'clearclip', 'naclip', 'naclip_pamr'}
    assert {p.stem for p in results.glob('*.json') if p.stem.count('.') == 0} == rows
    assert len(list(results.glob('*.speed.json'))) == len(rows) - 1  # trivial has no model
    assert len(list(results.glob('*.flops.json'))) == len(rows) - 1
    board = (board_dir / 'leaderboard.md').read_text()
    assert '### scenes (average: all)' in board
    table = [line for line in board.splitlines() if line.startswith('| ')]
    for method, config in (
        ('MaskCLIP', 'dense-clip_clip-tiny_scenes'),
        ('MaskCLIP', 'dense-clip_vit-scenes-tiny_scenes'),
        ('SCLIP', 'sclip_vit-scenes-tiny_scenes'),
        ('NACLIP', 'naclip-pamr_vit-scenes-tiny_scenes'),
        ('PAT', 'pat-baseline_clip-tiny_scenes'),
        ('MVP-SEG', 'mvp-seg-plus_clip-tiny-d8_scenes'),
        ('GroupViT (generated scenes)', 'groupvit-tiny_scenes-captions_grounded-3k'),
        ('trivial: "background" everywhere', 'trivial'),
    ):  # named by the metafiles (projects/ too), one row per config in each table
        rows = [
            line for line in table if line.startswith(f'| {method} |') and f'| {config} |' in line
        ]
        assert len(rows) == 2, (method, config, rows)
    combined = next(line for line in table if 'Params (M)' in line)
    assert 'Time ms (cpu' in combined and 'GFLOPs (96x96)' in combined


def test_main_job_rejects_a_missing_groupvit_config_before_working(tmp_path):
    job = load_tool('tools/run_offline_benchmark.py')
    with pytest.raises(SystemExit, match='--groupvit-config configs/nope.py does not exist'):
        job.main(
            ['--groupvit', '--groupvit-config', 'configs/nope.py', '--data', str(tmp_path / 'd')]
        )
    assert not (tmp_path / 'd').exists()  # failed before generating anything


@pytest.mark.parametrize(
    'config', ['configs/clip/clip-tiny_scenes.py', 'configs/pat/pat_clip-tiny_scenes.py']
)
@pytest.mark.parametrize('iters', [2, 100])
def test_smaller_runs_scale_the_schedule(config, iters):
    import argparse

    from mmengine.config import Config, DictAction

    job = load_tool('tools/run_offline_benchmark.py')
    options = job.schedule_options(ROOT / config, iters)
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)  # as the tools parse
    cfg = Config.fromfile(str(ROOT / config))
    cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)
    assert cfg.train_cfg.max_iters == iters
    schedulers = cfg.param_scheduler
    assert schedulers[0].begin == 0 and schedulers[-1].end == iters
    for first, second in zip(schedulers, schedulers[1:]):
        assert first.end == second.begin and first.begin < first.end
    if 'T_max' in schedulers[-1]:
        assert schedulers[-1].T_max == schedulers[-1].end - schedulers[-1].begin


def test_thread_count_and_one_line_per_tool(monkeypatch, tmp_path, capsys):
    import torch

    job = load_tool('tools/run_offline_benchmark.py')
    monkeypatch.setattr(job.os, 'cpu_count', lambda: 8)
    assert job.default_threads() == 4  # half the cores: the dataloader workers need the rest
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.delenv('MKL_NUM_THREADS', raising=False)
    before = torch.get_num_threads()
    try:
        assert job.configure_output(tmp_path / 'logs', None) == 4
        assert job.os.environ['OMP_NUM_THREADS'] == '4' == job.os.environ['MKL_NUM_THREADS']
        monkeypatch.setenv('OMP_NUM_THREADS', '3')
        assert job.configure_output(tmp_path / 'logs', 2) == 3  # the user's setting wins
    finally:
        torch.set_num_threads(before)
    log = 'x Iter(test) [6/6]    aAcc: 5.66  mIoU: 0.28  mAcc: 3.34  mIoU_seen: 0.31  hIoU: 0.2'
    assert job._summary_line(log) == 'mIoU: 0.28  mIoU_seen: 0.31  hIoU: 0.2'
    # a failing tool: its log's end and where the whole log is, then the job stops
    with pytest.raises(
        SystemExit, match=r'test nope failed \(exit [1-9]\d*\); log: .*test_nope.log'
    ):
        job.run_tool(['tools/test.py', 'configs/nope.py'])
    assert 'FAILED' in capsys.readouterr().out
    assert "'configs/nope.py' does not exist" in (tmp_path / 'logs' / 'test_nope.log').read_text()
