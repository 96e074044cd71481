"""tools/train.py, tools/test.py and tools/dist_train.sh on a tiny plain-mmseg config (CPU)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmpat.compat import load_checkpoint_file

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'tests/data/configs/tiny_vit-fcn_4it_tiny-seg.py'


def run(args: list[str], cwd: Path, env: dict | None = None, check: bool = True):
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    result = subprocess.run(
        args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600
    )
    if check and result.returncode != 0:
        pytest.fail(f'{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}')
    return result


def tool(name: str) -> list[str]:
    return [sys.executable, str(ROOT / 'tools' / name)]


@pytest.fixture(scope='module')
def trained(tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp('train')
    run([*tool('train.py'), str(CONFIG), '--work-dir', str(work_dir)], cwd=work_dir)
    return work_dir


def optimizer_step(checkpoint: dict) -> float:
    return float(checkpoint['optimizer']['state'][0]['step'])


def test_train_writes_checkpoints(trained):
    assert (trained / 'iter_2.pth').is_file() and (trained / 'iter_4.pth').is_file()
    checkpoint = load_checkpoint_file(str(trained / 'iter_4.pth'))
    assert checkpoint['meta']['iter'] == 4
    assert optimizer_step(checkpoint) == 4


def test_resume_restores_iteration_and_optimizer(trained, tmp_path):
    work_dir = tmp_path / 'resumed'
    work_dir.mkdir()
    for name in ('iter_4.pth', 'last_checkpoint'):
        (work_dir / name).write_bytes((trained / name).read_bytes())
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_4.pth'))
    result = run(
        [
            *tool('train.py'),
            str(CONFIG),
            '--work-dir',
            str(work_dir),
            '--resume',
            '--cfg-options',
            'train_cfg.max_iters=6',
        ],
        cwd=work_dir,
    )
    assert 'resumed epoch: 0, iter: 4' in result.stdout + result.stderr
    resumed = load_checkpoint_file(str(work_dir / 'iter_6.pth'))
    assert resumed['meta']['iter'] == 6
    # Adam's step counter continues from 4: the optimizer state was restored, not re-created.
    assert optimizer_step(resumed) == 6
    assert not (work_dir / 'iter_2.pth').exists()


def test_test_tool_evaluates_checkpoint(trained, tmp_path):
    result = run(
        [
            *tool('test.py'),
            str(CONFIG),
            str(trained / 'iter_4.pth'),
            '--work-dir',
            str(tmp_path),
            '--out',
            str(tmp_path / 'preds'),
        ],
        cwd=tmp_path,
    )
    assert 'mIoU' in result.stdout + result.stderr
    assert len(list((tmp_path / 'preds').glob('*.png'))) == 4


def test_distributed_training_on_cpu(tmp_path):
    env = {'PYTHON': sys.executable, 'PORT': '29517'}
    run(
        ['bash', str(ROOT / 'tools/dist_train.sh'), str(CONFIG), '2', '--work-dir', str(tmp_path)],
        cwd=tmp_path,
        env=env,
    )
    checkpoint = load_checkpoint_file(str(tmp_path / 'iter_4.pth'))
    assert checkpoint['meta']['iter'] == 4
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert "'backend': 'gloo'" in log or "backend='gloo'" in log
    model = {k: v for k, v in checkpoint['state_dict'].items() if torch.is_tensor(v)}
    assert all(torch.isfinite(v.float()).all() for v in model.values())


def assert_clean_error(result, *needles: str) -> None:
    assert result.returncode != 0
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    for needle in needles:
        assert needle in result.stderr, result.stderr[-3000:]


def test_missing_config_is_a_clear_error(tmp_path):
    result = run([*tool('train.py'), 'configs/nope.py'], cwd=tmp_path, check=False)
    assert_clean_error(result, "'configs/nope.py' does not exist")


def test_unknown_type_names_registry_and_close_names(tmp_path):
    result = run(
        [
            *tool('train.py'),
            str(CONFIG),
            '--work-dir',
            str(tmp_path),
            '--cfg-options',
            'model.decode_head.type=FCNHaed',
        ],
        cwd=tmp_path,
        check=False,
    )
    assert_clean_error(result, "Unknown type 'FCNHaed'", 'mmseg::model', 'FCNHead')


def test_missing_and_truncated_checkpoints_are_clear_errors(trained, tmp_path):
    result = run(
        [*tool('test.py'), str(CONFIG), str(tmp_path / 'nope.pth')], cwd=tmp_path, check=False
    )
    assert_clean_error(result, 'nope.pth', 'does not exist')
    data = (trained / 'iter_4.pth').read_bytes()
    broken = tmp_path / 'broken.pth'
    broken.write_bytes(data[: len(data) // 3])
    result = run(
        [*tool('test.py'), str(CONFIG), str(broken), '--work-dir', str(tmp_path)],
        cwd=tmp_path,
        check=False,
    )
    assert_clean_error(result, 'broken.pth', 'truncated or corrupted')


def test_inconsistent_ignore_index_is_refused_before_training(tmp_path):
    result = run(
        [
            *tool('train.py'),
            str(CONFIG),
            '--work-dir',
            str(tmp_path),
            '--cfg-options',
            'model.decode_head.ignore_index=65535',
        ],
        cwd=tmp_path,
        check=False,
    )
    assert_clean_error(
        result, 'Inconsistent ignore index', 'model.decode_head.ignore_index = 65535'
    )
    assert not list(tmp_path.glob('*.pth'))
