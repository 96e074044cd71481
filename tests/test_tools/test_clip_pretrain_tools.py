"""configs/clip/clip-tiny_scenes.py through tools/train.py on a tiny generated set (2 iterations,
'ViT-test' preset), the export hook and tool, and the zero-shot tool."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import open_clip
import pytest
import torch
from helpers.tools import run_tool
from mmseg.registry import MODELS
from open_clip.model import CLIP

from mmpat.compat import load_checkpoint_file
from mmpat.datasets.scenes import generate_scenes

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs/clip/clip-tiny_scenes.py'


@pytest.fixture(scope='module')
def trained(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp('clip_train')
    data = base / 'scenes'
    generate_scenes(str(data), size=32, num_pretrain=8, num_train=0, num_val=6, progress=False)
    work_dir = base / 'work'
    options = [
        'model.preset=ViT-test',
        'model.data_preprocessor.size=(32,32)',
        f'train_dataloader.dataset.data_root={data}',
        'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_cfg.max_iters=2',
        'default_hooks.checkpoint.interval=2',
    ]
    train = [sys.executable, str(ROOT / 'tools/train.py'), str(CONFIG)]
    run_tool([*train, '--work-dir', str(work_dir), '--cfg-options', *options], cwd=base)
    return work_dir, data


def test_train_exports_open_clip_weights_that_reload_identically(trained):
    work_dir, _ = trained
    checkpoint = load_checkpoint_file(str(work_dir / 'iter_2.pth'))
    assert checkpoint['meta']['iter'] == 2
    model = MODELS.build(dict(type='CLIPContrastive', preset='ViT-test'))
    model.load_state_dict(checkpoint['state_dict'])
    model.eval()
    # The weights moved away from a fresh init (training happened).
    fresh = MODELS.build(dict(type='CLIPContrastive', preset='ViT-test')).state_dict()
    assert not torch.equal(fresh['clip.visual.conv1.weight'], model.clip.visual.conv1.weight)

    preset = json.loads((work_dir / 'clip_tiny.json').read_text())
    assert set(preset) >= {'embed_dim', 'vision_cfg', 'text_cfg', 'quick_gelu'}
    clip = CLIP(**preset)
    clip.load_state_dict(torch.load(work_dir / 'clip_tiny.pth', weights_only=True))
    clip.eval()
    images = torch.randn(3, 3, 32, 32)
    tokens = open_clip.tokenize(['a photo of a red circle.', 'a star', 'two shapes'])
    with torch.no_grad():
        torch.testing.assert_close(clip.encode_image(images), model.clip.encode_image(images))
        torch.testing.assert_close(clip.encode_text(tokens), model.clip.encode_text(tokens))


def run_tool_in_process(path: str, args: list[str], monkeypatch) -> None:
    """Run a tool's ``main`` in this process (saves an interpreter start-up per test)."""
    monkeypatch.setattr(sys, 'argv', [path, *args])
    runpy.run_path(str(ROOT / path), run_name='__main__')


def test_export_tool_matches_the_hook(trained, tmp_path, monkeypatch):
    work_dir, _ = trained
    out = tmp_path / 'exported.pth'
    tool = 'tools/model_converters/export_clip.py'
    run_tool_in_process(tool, [str(work_dir / 'iter_2.pth'), str(out)], monkeypatch)
    by_tool = torch.load(out, weights_only=True)
    by_hook = torch.load(work_dir / 'clip_tiny.pth', weights_only=True)
    assert list(by_tool) == list(by_hook)
    assert all(torch.equal(by_tool[k], by_hook[k]) for k in by_hook)
    assert json.loads((tmp_path / 'exported.json').read_text()) == json.loads(
        (work_dir / 'clip_tiny.json').read_text()
    )


def test_zeroshot_tool_reports_seen_unseen_and_chance(trained, monkeypatch, capsys):
    work_dir, data = trained
    tool = 'tools/analysis/clip_zeroshot_cls.py'
    args = [str(work_dir / 'clip_tiny.pth'), '--data', str(data), '--json']
    run_tool_in_process(tool, args, monkeypatch)
    numbers = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert numbers['n'] == 6 and numbers['n_seen'] + numbers['n_unseen'] == 6
    assert numbers['chance'] == pytest.approx(1 / 30)
