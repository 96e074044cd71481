"""projects/groupvit_scenes/configs/groupvit-tiny_scenes-captions.py as shipped (GroupViT-tiny,
its extra losses) through tools/train.py (4 iterations on a few scenes, validation at the end),
tools/test.py (also with the colour-vocabulary config) and the grouping report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers.tools import run_tool

from mmpat.datasets.scenes import generate_scenes

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / 'projects/groupvit_scenes/configs'
CONFIG = CONFIGS / 'groupvit-tiny_scenes-captions.py'
COLOUR_CONFIG = CONFIGS / 'groupvit-tiny_scenes-captions_colour-vocab.py'


@pytest.mark.slow
def test_scenes_config_trains_tests_and_reports(tmp_path):
    data = tmp_path / 'scenes'
    generate_scenes(str(data), num_pretrain=16, num_train=0, num_val=3, progress=False)
    work = tmp_path / 'work'
    options = [
        f'train_dataloader.dataset.data_root={data}',
        f'val_dataloader.dataset.data_root={data}',
        f'test_dataloader.dataset.data_root={data}',
        'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'train_cfg.max_iters=4',
        'train_cfg.val_interval=4',
        'default_hooks.checkpoint.interval=4',
    ]
    train = run_tool(
        [sys.executable, str(ROOT / 'tools/train.py'), str(CONFIG), '--work-dir', str(work),
         '--cfg-options', *options],
        cwd=tmp_path,
    )  # fmt: skip
    log = train.stdout + train.stderr
    # the shipped extra losses are trained and the group counts are logged
    losses = ('itc', 'multi_label', 'groups', 'group_text', 'group_unmatched')
    for key in (*(f'loss_{name}' for name in losses), 'groups_stage2'):
        assert key in log, key
    assert 'mIoU_unseen' in log  # validation ran with the scenes' vocabulary
    checkpoint = work / 'iter_4.pth'
    assert checkpoint.is_file()
    test = run_tool(
        [sys.executable, str(ROOT / 'tools/test.py'), str(CONFIG), str(checkpoint),
         '--work-dir', str(tmp_path / 'test'), '--cfg-options', *options[2:3], *options[8:10]],
        cwd=tmp_path,
    )  # fmt: skip
    assert 'hIoU' in test.stdout + test.stderr
    # the same checkpoint with the colour vocabulary: 6 colours + background, merged labels
    colour = run_tool(
        [sys.executable, str(ROOT / 'tools/test.py'), str(COLOUR_CONFIG), str(checkpoint),
         '--work-dir', str(tmp_path / 'test_colour'), '--cfg-options', *options[2:3],
         *options[8:10]],
        cwd=tmp_path,
    )  # fmt: skip
    table = colour.stdout + colour.stderr
    assert 'red object' in table and 'white object' in table and 'red circle' not in table
    report = run_tool(
        [sys.executable, str(ROOT / 'tools/analysis/groupvit_grouping_report.py'), str(CONFIG),
         str(checkpoint), '--json', '--cfg-options', *options[2:3]],
        cwd=tmp_path,
    )  # fmt: skip
    result = json.loads(report.stdout.strip().splitlines()[-1])
    assert result['images'] == 3
    assert 1 <= result['groups_per_image'] <= 8  # GroupViT-tiny: 8 final groups
