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
