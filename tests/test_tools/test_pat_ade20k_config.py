"""configs/pat/pat_vit-b_ade20k.py as users run it: ``python tools/train.py CONFIG`` from a folder
holding ``checkpoints/clip/ViT-B-16.pt`` (here random ViT-B/16 weights) and
``data/ade/ADEChallengeData2016`` (here a few fabricated images); a clear error without the
CLIP file; the cross-dataset configs' loaders equal the zero-shot dataset bases; the model zoo's
metafile parses and names every PAT config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers.tools import run_tool
from mmengine.config import Config
from module_cases.zeroshot_datasets import fabricate
from PIL import Image

from mmpat.compat import load_checkpoint_file
from mmpat.utils.ignore_index import check_ignore_index

ROOT = Path(__file__).resolve().parents[2]
PAT = ROOT / 'configs' / 'pat'
CONFIG = PAT / 'pat_vit-b_ade20k.py'
CLIP_FILE = 'checkpoints/clip/ViT-B-16.pt'  # the config's clip_weights, relative to the cwd
ADE_ROOT = 'data/ade/ADEChallengeData2016'
# cross-dataset config suffix -> (zero-shot dataset base, ignore index of val/test)
ZEROSHOT = {
    'ade20k-847': ('ade20k_847.py', 65535),
    'pascal-context-59': ('pascal_context_59.py', 255),
    'pascal-context-459': ('pascal_context_459.py', 65535),
    'voc-20': ('voc20.py', 255),
}
NO_WORKERS = [
    f'{split}_dataloader.{key}'
    for split in ('train', 'val', 'test')
    for key in ('num_workers=0', 'persistent_workers=False')
]
EVAL_KEYS = ('val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator')


def fabricate_ade20k(root: Path, num_train: int = 4, num_val: int = 1, size=(64, 80)) -> None:
    """ADEChallengeData2016 layout: jpg images, uint8 label maps 0..150 (0: "other")."""
    rng = np.random.default_rng(0)
    for split, num in (('training', num_train), ('validation', num_val)):
        (root / 'images' / split).mkdir(parents=True)
        (root / 'annotations' / split).mkdir(parents=True)
        for i in range(num):
            name = f'ADE_{split[:5]}_{i:08d}'
            image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(image).save(root / 'images' / split / f'{name}.jpg')
            # blocks of 8x8 px, so crops hold a few classes each (as real scenes do)
            blocks = rng.integers(0, 151, (size[0] // 8, size[1] // 8), dtype=np.uint8)
            label = np.kron(blocks, np.ones((8, 8), dtype=np.uint8))
            Image.fromarray(label).save(root / 'annotations' / split / f'{name}.png')


@pytest.fixture(scope='module')
def clip_state() -> dict[str, torch.Tensor]:
    """Random ViT-B/16 CLIP weights in open_clip's layout, fp16 like OpenAI's release."""
    from mmpat.models.clip.presets import build_open_clip

    torch.manual_seed(0)
    return {k: v.half() for k, v in build_open_clip('ViT-B-16').state_dict().items()}


@pytest.fixture(scope='module')
def user_dir(tmp_path_factory, clip_state) -> Path:
    """A folder laid out as the config expects: the CLIP file and ADE20K, relative paths."""
    root = tmp_path_factory.mktemp('pat_ade20k')
    (root / CLIP_FILE).parent.mkdir(parents=True)
    torch.save(clip_state, root / CLIP_FILE)  # an open_clip state dict saved under .pt
    fabricate_ade20k(root / ADE_ROOT)
    return root


@pytest.fixture(scope='module')
def trained(user_dir) -> tuple[Path, str]:
    """``tools/train.py CONFIG`` for 2 iterations (batch 1, 512 crops, A-150 validation)."""
    work = user_dir / 'work'
    options = [
        'train_dataloader.batch_size=1',
        *NO_WORKERS,
        'train_cfg.max_iters=2',
        'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
    ]
    train = run_tool(
        [sys.executable, str(ROOT / 'tools/train.py'), str(CONFIG), '--work-dir', str(work),
         '--cfg-options', *options],
        cwd=user_dir,
    )  # fmt: skip
    return work, train.stdout + train.stderr


@pytest.mark.slow
def test_pat_ade20k_trains_two_iterations(trained, clip_state):
    work, log = trained
    lines = [line for line in log.splitlines() if 'Iter(train)' in line]
    assert [tag for tag in ('[1/2]', '[2/2]') if any(tag in line for line in lines)] == [
        '[1/2]',
        '[2/2]',
    ], lines
    for line in lines:
        for key in ('decode.loss_ce', 'aux.loss_recon', 'loss_vq', 'perplexity_l0'):
            assert key in line, (key, line)
    assert 'mIoU' in log  # validation on A-150 (slide inference, 512 crops) ran
    checkpoint = work / 'iter_2.pth'
    assert checkpoint.is_file()
    state = load_checkpoint_file(str(checkpoint))['state_dict']
    # the frozen towers hold the file's weights: the file was loaded, and training kept them
    for key, name in (
        ('backbone.visual.conv1.weight', 'visual.conv1.weight'),
        ('text_encoder.text.token_embedding.weight', 'token_embedding.weight'),
    ):
        assert torch.equal(state[key], clip_state[name].float()), key
    assert state['neck.quantizers.0.codebook'].shape == (1024, 256)


@pytest.mark.slow
def test_cross_dataset_config_tests_the_checkpoint(trained, user_dir):
    """tools/test.py with the VOC-20 config on the ADE20K checkpoint, data at its default path."""
    fabricate(user_dir / 'data/VOCdevkit/VOC2012', 'voc20', num=1, size=(48, 64))
    work, _ = trained
    config = PAT / 'pat_vit-b_ade20k_zeroshot_voc-20.py'
    result = run_tool(
        [sys.executable, str(ROOT / 'tools/test.py'), str(config), str(work / 'iter_2.pth'),
         '--work-dir', str(user_dir / 'test_voc20'), '--cfg-options', *NO_WORKERS],
        cwd=user_dir,
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert 'hIoU' in log and 'aeroplane' in log  # VOC-20's classes and its seen/unseen split


def test_missing_clip_file_is_a_clear_error(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    result = subprocess.run(
        [sys.executable, str(ROOT / 'tools/train.py'), str(CONFIG), '--work-dir',
         str(tmp_path / 'work')],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith('error: ') and CLIP_FILE in message, message
    assert 'tools/model_converters/clip2mmpat.py' in message, message


def test_main_config_follows_the_documented_recipe():
    cfg = Config.fromfile(str(CONFIG))
    assert cfg.model.backbone.preset == cfg.model.text_encoder.preset == 'ViT-B-16'
    assert cfg.model.backbone.pretrained == cfg.model.text_encoder.pretrained == cfg.clip_weights
    assert cfg.train_dataloader.dataset.type == 'ADE20K150Dataset'
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    crop = next(t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomCrop')
    assert tuple(crop.crop_size) == (512, 512) and crop.cat_max_ratio == 0.75
    assert cfg.train_cfg.max_iters == 80000
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert (cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay) == (
        1e-4,
        0.01,
    )
    assert cfg.param_scheduler[-1].type == 'PolyLR' and cfg.param_scheduler[-1].end == 80000
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16)
    assert cfg.model.test_cfg.mode == 'slide' and tuple(cfg.model.test_cfg.crop_size) == (512, 512)
    assert check_ignore_index(cfg) == dict(train=255, val=255, test=255)
    # validation is the A-150 zero-shot benchmark's, unchanged
    a150 = Config.fromfile(str(ROOT / 'configs/_base_/datasets/ade20k_150.py'))
    for key in EVAL_KEYS:
        assert cfg[key].to_dict() == a150[key].to_dict(), key


@pytest.mark.parametrize('name', sorted(ZEROSHOT))
def test_cross_dataset_config_is_the_model_on_the_zeroshot_base(name):
    base, ignore = ZEROSHOT[name]
    cfg = Config.fromfile(str(PAT / f'pat_vit-b_ade20k_zeroshot_{name}.py'))
    main = Config.fromfile(str(CONFIG))
    zeroshot = Config.fromfile(str(ROOT / 'configs/_base_/datasets' / base))
    assert cfg.model.to_dict() == main.model.to_dict()  # the same checkpoint loads
    for key in EVAL_KEYS:
        assert cfg[key].to_dict() == zeroshot[key].to_dict(), key
    assert check_ignore_index(cfg) == dict(train=255, val=ignore, test=ignore)


def test_every_benchmark_has_a_cross_dataset_config():
    names = {p.stem.split('_zeroshot_')[1] for p in PAT.glob('pat_vit-b_ade20k_zeroshot_*.py')}
    assert names == set(ZEROSHOT)


def test_metafile_parses_and_lists_every_config():
    meta = yaml.safe_load((PAT / 'metafile.yaml').read_text())
    assert [c['Name'] for c in meta['Collections']] == ['PAT']
    models = meta['Models']
    configs = {m['Config'] for m in models}
    assert configs == {f'configs/pat/{p.name}' for p in PAT.glob('*.py')}
    assert len({m['Name'] for m in models}) == len(models)
    for model in models:
        assert model['In Collection'] == 'PAT'
        assert (ROOT / model['Config']).is_file()
        for result in model.get('Results') or []:
            assert set(result) >= {'Task', 'Dataset', 'Metrics'}


def test_readme_names_every_config():
    readme = (PAT / 'README.md').read_text()
    for path in PAT.glob('*.py'):
        assert path.name in readme, path.name
