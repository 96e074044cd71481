"""Safe checkpoint loading on torch >= 2.6: allow-listed runner checkpoints load, the rest is
refused with an actionable message unless the user opts in."""

import argparse
import os
import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import _load_checkpoint

from mmpat.compat import TRUST_ENV, CheckpointError, load_checkpoint_file


class _Exploit:
    """Unpickling this would run a shell command."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f'touch {self.target}',))


def runner_like_checkpoint() -> dict:
    hub = MessageHub.get_instance('test_checkpoint_hub')
    hub.update_scalar('train/loss', 0.5)
    hub.update_info('iter', 3)
    import numpy as np

    hub.update_info('np_scalar', np.float64(1.5))
    return dict(
        meta=dict(iter=3, seed=0, dataset_meta=dict(classes=('a', 'b'), palette=[[0, 0, 0]])),
        state_dict={'w': torch.randn(2, 2)},
        message_hub=hub.state_dict(),
        optimizer={'state': {0: {'step': torch.tensor(3.0)}}, 'param_groups': [{'lr': 0.1}]},
    )


def test_runner_checkpoint_loads_safely(tmp_path):
    path = tmp_path / 'iter_3.pth'
    torch.save(runner_like_checkpoint(), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)  # what plain mmengine 0.10.7 hits on torch >= 2.6
    loaded = load_checkpoint_file(str(path))
    assert loaded['meta']['iter'] == 3
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and buffer.current() == 0.5
    # mmengine's own loader goes through the same path.
    assert _load_checkpoint(str(path), map_location='cpu')['meta']['iter'] == 3


def test_unknown_global_is_refused_with_how_to_opt_in(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path = tmp_path / 'third_party.pth'
    torch.save({'args': argparse.Namespace(lr=0.1), 'w': torch.ones(1)}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint_file(str(path))
    message = str(info.value)
    assert (
        'argparse.Namespace' in message and TRUST_ENV in message and '--trust-checkpoint' in message
    )
    monkeypatch.setenv(TRUST_ENV, '1')
    assert load_checkpoint_file(str(path))['args'].lr == 0.1


def test_code_in_a_pickle_never_runs(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'x': _Exploit(str(marker))}, path)
    with pytest.raises(CheckpointError, match='posix.system|os.system|system'):
        load_checkpoint_file(str(path))
    assert not marker.exists()


def test_truncated_and_missing_files_get_clear_errors(tmp_path):
    path = tmp_path / 'full.pth'
    torch.save(runner_like_checkpoint(), path)
    data = path.read_bytes()
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match='truncated or corrupted'):
        load_checkpoint_file(str(truncated))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))
    assert path.read_bytes() == data  # loading never touches the user's file
