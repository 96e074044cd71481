"""tools/test.py options as a user runs them."""

from __future__ import annotations

import sys

from helpers.tools import ROOT, run_tool

CONFIG = ROOT / 'tests/data/configs/dense-clip_vit-test_tiny-seg.py'


def test_show_dir_writes_the_painted_predictions(tmp_path):
    show = tmp_path / 'show'
    run_tool(
        [sys.executable, str(ROOT / 'tools/test.py'), str(CONFIG), '--work-dir', str(tmp_path)]
        + ['--show-dir', str(show)],
        cwd=ROOT,
    )
    painted = sorted(show.rglob('*.png'))
    assert len(painted) == 4, painted  # one per validation image of the tiny set


def test_tta_without_a_tta_pipeline_is_a_clear_error(tmp_path):
    import os
    import subprocess

    done = subprocess.run(
        [sys.executable, str(ROOT / 'tools/test.py'), str(CONFIG), '--tta']
        + ['--work-dir', str(tmp_path)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1'),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert 'error: --tta needs a `tta_pipeline`' in done.stderr + done.stdout
    assert 'Traceback' not in done.stderr
