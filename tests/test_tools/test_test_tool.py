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


def _run_test_tool(tmp_path, *extra):
    import os
    import subprocess

    return subprocess.run(
        [sys.executable, str(ROOT / 'tools/test.py'), str(CONFIG), *extra]
        + ['--work-dir', str(tmp_path / 'work')],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1'),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_checkpoint_of_another_model_is_refused_unless_allowed(tmp_path):
    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS

    model = MODELS.build(Config.fromfile(str(CONFIG)).model)
    state = model.state_dict()
    right, wrong = tmp_path / 'right.pth', tmp_path / 'wrong.pth'
    torch.save({'state_dict': state, 'meta': {}}, right)
    other = {k: v for k, v in state.items() if not k.startswith('decode_head.')}
    other['neck.lateral.weight'] = torch.zeros(2, 2)
    torch.save({'state_dict': other, 'meta': {}}, wrong)

    refused = _run_test_tool(tmp_path, str(wrong))
    assert refused.returncode != 0
    message = refused.stderr + refused.stdout
    assert 'does not fit the model' in message and 'neck.lateral.weight' in message, message
    assert 'Traceback' not in refused.stderr
    assert 'Iter(test)' not in refused.stdout  # no metrics of weights that were never loaded
    assert _run_test_tool(tmp_path, str(wrong), '--allow-mismatch').returncode == 0
    assert _run_test_tool(tmp_path, str(right)).returncode == 0


def test_results_file_is_a_valid_leaderboard_input(tmp_path):
    import json
    import re

    from mmpat.evaluation.leaderboard import load_record

    out = tmp_path / 'results' / 'tiny.json'
    done = run_tool(
        [sys.executable, str(ROOT / 'tools/test.py'), str(CONFIG), '--work-dir', str(tmp_path)]
        + ['--results', str(out), '--cfg-options', 'test_evaluator.type=OpenVocabIoUMetric']
        + ['test_evaluator.average=present'],
        cwd=ROOT,
    )
    data = load_record(out).data  # the leaderboard's own check of the format
    assert data['format'] == 'mmpat-results/1'
    assert data['config'] == str(CONFIG) and data['config_name'] == CONFIG.stem
    assert data['checkpoint'] is None and data['device'] == 'cpu'
    assert data['dataset'] == 'BaseSegDataset' and data['benchmark'] == 'BaseSegDataset'
    assert data['num_classes'] == 3 and data['average'] == 'present'
    assert data['data_root'].endswith('tiny_seg')
    logged = dict(re.findall(r'\b(mIoU|aAcc|mAcc): ([0-9.]+)', done.stdout))
    assert logged, done.stdout[-2000:]
    for key, value in logged.items():  # the file holds what the run logged
        assert data['metrics'][key] == float(value), key
    # No split in the tiny set: unseen / hIoU are NaN in the run and null in the file.
    assert data['metrics']['mIoU_unseen'] is None and data['metrics']['hIoU'] is None
    assert 'NaN' not in out.read_text()
    assert json.loads(out.read_text()) == data
