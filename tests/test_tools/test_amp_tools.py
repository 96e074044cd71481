"""``--amp`` of tools/train.py and tools/test.py on a machine without CUDA (issue 19).

mmengine's AmpOptimWrapper cannot be built on the CPU, so the tools use bfloat16 autocast there
(BF16AmpOptimWrapper for training, TestLoop(fp16=True) for testing) or stop with the reason.
"""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch
from helpers.tools import ROOT, run_tool
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper

from mmpat.compat import load_checkpoint_file
from mmpat.utils import cli

CONFIG = ROOT / 'tests/data/configs/tiny_vit-fcn_4it_tiny-seg.py'

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available(), reason='the CPU path of --amp needs a machine without CUDA'
)
BF16_PROBLEM = cli.cpu_bf16_problem()
needs_bf16 = pytest.mark.skipif(BF16_PROBLEM is not None, reason=f'no CPU bf16: {BF16_PROBLEM}')


def tool(name: str) -> list[str]:
    return [sys.executable, str(ROOT / 'tools' / name), str(CONFIG)]


@pytest.fixture(scope='module')
def amp_trained(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('amp_train')
    result = run_tool(
        [*tool('train.py'), '--amp', '--work-dir', str(work_dir)]
        + ['--cfg-options', 'train_cfg.max_iters=2'],
        cwd=work_dir,
    )
    return work_dir, result.stdout + result.stderr


@needs_bf16
def test_train_amp_on_cpu_uses_bf16_autocast_without_loss_scaling(amp_trained):
    work_dir, output = amp_trained
    assert 'AMP on CPU: bfloat16 autocast (BF16AmpOptimWrapper, no loss scaling)' in output
    dumped = Config.fromfile(str(work_dir / CONFIG.name))  # the config the runner was built from
    assert dumped.optim_wrapper.type == 'BF16AmpOptimWrapper'
    assert dumped.optim_wrapper.dtype == 'bfloat16'
    assert 'loss_scale' not in dumped.optim_wrapper
    checkpoint = load_checkpoint_file(str(work_dir / 'iter_2.pth'))
    assert checkpoint['meta']['iter'] == 2
    assert 'loss_scaler' not in checkpoint['optimizer']
    assert float(checkpoint['optimizer']['state'][0]['step']) == 2
    scalars = next(work_dir.glob('*/vis_data/scalars.json')).read_text().splitlines()
    losses = [json.loads(line)['loss'] for line in scalars if '"loss"' in line]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses), losses
    weights = [v for v in checkpoint['state_dict'].values() if torch.is_tensor(v)]
    assert all(v.dtype != torch.bfloat16 for v in weights)  # autocast keeps fp32 master weights
    assert all(torch.isfinite(v.float()).all() for v in weights)


@needs_bf16
def test_test_amp_on_cpu_evaluates_under_bf16_autocast(amp_trained, tmp_path):
    work_dir, _ = amp_trained
    result = run_tool(
        [*tool('test.py'), str(work_dir / 'iter_2.pth'), '--amp', '--work-dir', str(tmp_path)]
        + ['--out', str(tmp_path / 'preds')],
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert "AMP on CPU: bfloat16 autocast (TestLoop fp16=True: torch.autocast('cpu'" in output
    assert "test_cfg = dict(fp16=True, type='TestLoop')" in output
    assert 'Iter(test) [4/4]' in output and 'mIoU:' in output
    assert len(list((tmp_path / 'preds').glob('*.png'))) == 4


def test_bf16_wrapper_autocasts_and_keeps_no_loss_scaler():
    model = torch.nn.Linear(4, 3)
    wrapper = cli.BF16AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert isinstance(wrapper, AmpOptimWrapper) and wrapper.cast_dtype == torch.bfloat16
    with wrapper.optim_context(model):
        out = model(torch.ones(2, 4))
    assert out.dtype == torch.bfloat16
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().square().mean())
    assert model.weight.dtype == torch.float32 and not torch.equal(model.weight, before)
    state = wrapper.state_dict()
    assert 'loss_scaler' not in state
    # A float16 run's checkpoint (with a GradScaler state) resumes without its scaler.
    wrapper.load_state_dict({**state, 'loss_scaler': {'scale': 65536.0}})
    with pytest.raises(ValueError, match='bfloat16 only'):
        cli.BF16AmpOptimWrapper(optimizer=wrapper.optimizer, dtype='float16')
    with pytest.raises(ValueError, match='no loss_scale'):
        cli.BF16AmpOptimWrapper(optimizer=wrapper.optimizer, loss_scale='dynamic')


def test_enable_amp_training_on_cpu_replaces_fp16_settings(monkeypatch):
    monkeypatch.setattr(cli, 'cpu_bf16_problem', lambda: None)
    cfg = Config(
        dict(
            optim_wrapper=dict(
                type='AmpOptimWrapper', loss_scale=512.0, dtype='float16', optimizer=dict()
            )
        )
    )
    message = cli.enable_amp_training(cfg)
    assert message.startswith('AMP on CPU: bfloat16 autocast (BF16AmpOptimWrapper')
    assert 'dtype=float16 is replaced' in message and 'loss_scale=512.0' in message
    assert cfg.optim_wrapper.to_dict() == dict(
        type='BF16AmpOptimWrapper', dtype='bfloat16', optimizer=dict()
    )


def test_enable_amp_training_on_cuda_keeps_mmseg_behaviour(monkeypatch):
    monkeypatch.setattr(cli, 'amp_device', lambda: 'cuda')
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict())))
    assert cli.enable_amp_training(cfg) == ''
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic' and 'dtype' not in cfg.optim_wrapper


def test_cpu_without_bf16_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(cli, '_mkldnn_bf16_supported', lambda: False)
    problem = cli.cpu_bf16_problem()
    assert 'oneDNN has no bfloat16 kernels for this CPU' in problem
    for enable in (cli.enable_amp_training, cli.enable_amp_testing):
        cfg = Config(dict(optim_wrapper=dict(optimizer=dict()), test_cfg=dict(type='TestLoop')))
        with pytest.raises(SystemExit, match='--amp needs bfloat16 autocast') as stop:
            enable(cfg)
        assert problem in str(stop.value) and 'Run without --amp' in str(stop.value)


def test_amp_optim_wrapper_config_on_cpu_without_amp_flag_is_a_clear_error():
    cfg = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper', optimizer=dict())))
    with pytest.raises(SystemExit, match='Pass --amp for bfloat16 autocast on the CPU'):
        cli.check_amp_config_fits_device(cfg)
    cfg.optim_wrapper.type = 'OptimWrapper'
    assert cli.check_amp_config_fits_device(cfg) == ''


def test_test_amp_needs_a_loop_with_fp16(monkeypatch):
    monkeypatch.setattr(cli, 'cpu_bf16_problem', lambda: None)
    cfg = Config(dict(test_cfg=dict(type='TestLoop')))
    assert cli.enable_amp_testing(cfg).startswith('AMP on CPU: bfloat16 autocast')
    assert cfg.test_cfg.fp16 is True

    class NoFp16Loop:
        def __init__(self, runner, dataloader, evaluator):
            pass

    cfg = Config(dict(test_cfg=dict(type=NoFp16Loop)))
    with pytest.raises(SystemExit, match='test loop with an fp16 option'):
        cli.enable_amp_testing(cfg)
