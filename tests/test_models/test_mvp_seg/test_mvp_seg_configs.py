"""The zero-shot MVP-SEG / MVP-SEG+ configs (configs/mvp_seg/*zs.py), parsed only (no data, no
weights): inductive MVP-SEG trains on the seen vocabulary, the transductive MVP-SEG+ student on
every class with the unseen pixels unlabelled, its prompts and teacher from the matching MVP-SEG
run; the unseen classes of the train datasets are the papers' splits (MaskCLIP+, MVP-SEG)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

from mmpat.datasets.class_names import UNSEEN_CLASSES

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = sorted((ROOT / 'configs' / 'mvp_seg').glob('*zs.py'))
# dataset type -> (UNSEEN_CLASSES key, iterations, switch_iter, crop size)
BENCHMARKS = {
    'PascalVOC20Dataset': ('voc20', 20000, 2000, (512, 512)),
    'PascalContext60Dataset': ('pascal_context59', 40000, 4000, (480, 480)),
    'COCOStuff171Dataset': ('coco_stuff171', 80000, 8000, (512, 512)),
}


def _ids(paths):
    return [p.name for p in paths]


def train_parts(cfg: Config) -> list[dict]:
    dataset = cfg.train_dataloader.dataset
    return list(dataset.datasets) if dataset.type == 'ConcatDataset' else [dataset]


def hooks_by_type(cfg: Config) -> dict[str, dict]:
    hooks = {}
    for hook in cfg.get('custom_hooks', []):
        assert hook['type'] not in hooks, f'{hook["type"]} twice'
        hooks[hook['type']] = hook
    return hooks


def benchmark_of(cfg: Config) -> str:
    types = {part.type for part in train_parts(cfg)}
    assert len(types) == 1
    (kind,) = types
    assert cfg.val_dataloader.dataset.type == kind == cfg.test_dataloader.dataset.type
    return kind


def test_the_six_configs_exist():
    names = {p.name for p in CONFIGS}
    for bench in ('20k_voc-20', '40k_pascal-context-60', '80k_coco-stuff-171'):
        assert f'mvp-seg_vit-b16_{bench}-zs.py' in names
        assert f'mvp-seg-plus_r101-d8_{bench}-zs.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_common_settings(path):
    cfg = Config.fromfile(str(path))
    kind = benchmark_of(cfg)
    split, iters, _, crop = BENCHMARKS[kind]
    assert cfg.train_cfg.max_iters == iters
    assert path.name.split('_')[2] == f'{iters // 1000}k'
    assert cfg.randomness.seed == 0
    assert cfg.train_dataloader.batch_size == 4
    assert tuple(cfg.model.data_preprocessor.size) == crop
    crops = [s.crop_size for p in train_parts(cfg) for s in p.pipeline if s.type == 'RandomCrop']
    assert crops and all(tuple(c) == crop for c in crops)
    if crop == (480, 480):
        assert cfg.model.test_cfg.mode == 'slide' and tuple(cfg.model.test_cfg.crop_size) == crop
    checkpoint = cfg.default_hooks.checkpoint
    assert iters % checkpoint.interval == 0  # iter_<iters>.pth is written
    assert cfg.param_scheduler[-1].end == iters
    # Validation and test: every class of the val split.
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.get('vocabulary', 'all') == 'all'
        assert not loader.dataset.get('unlabelled_unseen', False)
    # The unseen classes the train dataset type carries are the papers' split.
    unseen = DATASETS.get(kind).METAINFO['unseen_classes']
    assert sorted(unseen) == sorted(UNSEEN_CLASSES[split])


MVP_SEG = [p for p in CONFIGS if p.name.startswith('mvp-seg_')]
MVP_SEG_PLUS = [p for p in CONFIGS if p.name.startswith('mvp-seg-plus_')]


@pytest.mark.parametrize('path', MVP_SEG, ids=_ids(MVP_SEG))
def test_mvp_seg_is_inductive(path):
    cfg = Config.fromfile(str(path))
    for part in train_parts(cfg):
        assert part.vocabulary == 'seen'
        assert not part.get('unlabelled_unseen', False)
    hooks = hooks_by_type(cfg)
    assert hooks['VocabularyHook'].get('inductive', True) is True
    assert 'PseudoLabelHook' not in hooks
    assert cfg.model.decode_head.type == 'MultiPromptHead'
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == ('AdamW', 2e-3, 0.0)


@pytest.mark.parametrize('path', MVP_SEG_PLUS, ids=_ids(MVP_SEG_PLUS))
def test_mvp_seg_plus_is_transductive_with_its_teacher(path):
    cfg = Config.fromfile(str(path))
    kind = benchmark_of(cfg)
    _, iters, switch_iter, _ = BENCHMARKS[kind]
    for part in train_parts(cfg):
        assert part.unlabelled_unseen is True
        assert part.get('vocabulary', 'all') == 'all'
    hooks = hooks_by_type(cfg)
    assert hooks['VocabularyHook'].inductive is False
    pseudo = hooks['PseudoLabelHook']
    assert pseudo.switch_iter == switch_iter == iters // 10
    # The teacher: the MVP-SEG config of the same benchmark and its final checkpoint, which also
    # holds the prompts of the student's classifier.
    teacher_path = ROOT / pseudo.teacher_config
    assert teacher_path.is_file() and teacher_path in MVP_SEG
    teacher = Config.fromfile(str(teacher_path))
    assert benchmark_of(teacher) == kind
    expected_ckpt = f'work_dirs/{teacher_path.stem}/iter_{teacher.train_cfg.max_iters}.pth'
    assert pseudo.teacher_checkpoint == expected_ckpt
    text = cfg.model.text_encoder
    assert text.type == 'MultiViewPromptTextEncoder'
    assert text.checkpoint == expected_ckpt
    assert text.num_prompts == teacher.model.decode_head.num_prompts
    assert text.n_ctx == teacher.model.decode_head.n_ctx
    assert text.text_encoder.type == teacher.model.text_encoder.type == 'OpenCLIPTextEncoder'
    assert text.text_encoder.preset == teacher.model.text_encoder.preset == 'ViT-B-16'
    assert text.text_encoder.pretrained == teacher.model.text_encoder.pretrained
    # The DeepLab student on ResNet-101-v1c, weights from a local file only.
    model = cfg.model
    assert model.type == 'OpenVocabEncoderDecoder' and model.pretrained is None
    assert model.backbone.type == 'ResNetV1c' and model.backbone.depth == 101
    assert tuple(model.backbone.dilations) == (1, 1, 2, 4)
    assert tuple(model.backbone.strides) == (1, 2, 1, 1)
    assert model.backbone.norm_cfg.type == 'SyncBN'
    init = model.backbone.init_cfg
    assert init.type == 'Pretrained' and init.checkpoint == 'checkpoints/resnet101_v1c.pth'
    head = (
        'TextClassifierSepASPPHead'
        if kind == 'PascalContext60Dataset'
        else 'TextClassifierASPPHead'
    )
    assert model.decode_head.type == head and model.decode_head.embed_dims == 512
    assert model.data_preprocessor.mean == [123.675, 116.28, 103.53]  # ImageNet
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'SGD' and optimizer.momentum == 0.9
    assert [s.type for s in cfg.param_scheduler] == ['PolyLR']


def test_no_weights_are_downloaded():
    for path in CONFIGS:
        text = path.read_text()
        code = '\n'.join(line for line in text.splitlines() if not line.lstrip().startswith('#'))
        assert 'open-mmlab://' not in code and 'http' not in code, path.name
