"""mmseg 1.x's own entry points work on mmpat configs unmodified: ``init_model``,
``inference_model``, ``MMSegInferencer`` and ``SegLocalVisualizer`` (issue 19).

One config per family (dense CLIP, GroupViT, PAT, MVP-SEG), shrunk to random tiny weights; the
checkpoints are written as mmpat writes them (a runner's ``CheckpointHook`` for the trained
models, ``groupvit2mmpat`` for GroupViT). The class names the mmseg tools see must be the
model's vocabulary, never mmseg's Cityscapes default.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from helpers.groupvit_models import shrink_groupvit_model
from helpers.pat_models import TINY_PAT_OPTIONS
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.apis import MMSegInferencer, inference_model, init_model
from mmseg.registry import MODELS
from mmseg.utils import get_classes, get_palette
from mmseg.visualization import SegLocalVisualizer
from PIL import Image
from test_all_configs import drop_weights

from mmpat.datasets.scenes import generate_scenes
from mmpat.datasets.zeroshot import PascalVOC21Dataset
from mmpat.engine.hooks import EvalVocabularyHook
from mmpat.models.groupvit import groupvit_zero_shot_cfg
from mmpat.models.groupvit.convert import groupvit_checkpoint
from mmpat.utils.vocabulary import primary_name

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    'groupvit2mmpat', ROOT / 'tools/model_converters/groupvit2mmpat.py'
)
groupvit2mmpat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(groupvit2mmpat)
DENSE_CLIP = ROOT / 'configs/dense_clip/dense-clip_vit-scenes-tiny_scenes.py'
GROUPVIT = ROOT / 'configs/groupvit/groupvit-s_gcc-yfcc_zeroshot_voc.py'
PAT = ROOT / 'configs/pat/pat_clip-tiny_scenes.py'
MVP_SEG = ROOT / 'configs/mvp_seg/mvp-seg_clip-tiny_scenes.py'
CITYSCAPES = tuple(get_classes('cityscapes'))
VOC21 = tuple(primary_name(c) for c in PascalVOC21Dataset.METAINFO['classes'])


@pytest.fixture(scope='module')
def scenes(tmp_path_factory) -> dict:
    """Tiny generated scenes (train + val label maps, ``meta.json``) and a 64 px test image."""
    root = tmp_path_factory.mktemp('scenes')
    generate_scenes(str(root), size=64, num_pretrain=0, num_train=2, num_val=1, progress=False)
    meta = json.loads((root / 'meta.json').read_text())
    image = root / 'img.png'
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(image)
    return dict(root=str(root), meta=meta, image=str(image))


def _set_scenes_root(cfg: Config, root: str) -> None:
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader:
            loader.update(
                num_workers=0, persistent_workers=False, batch_size=min(2, loader.batch_size)
            )
            loader.dataset.data_root = root


def _tiny_clip(cfg: Config, out_indices: tuple) -> None:
    model = cfg.model
    model.backbone.update(preset='ViT-test', out_indices=out_indices)
    model.backbone.pop('output_stride', None)  # dilation is for timm towers only
    model.text_encoder.update(preset='ViT-test', cache_dir=None)
    model.data_preprocessor.size = (64, 64)
    model.test_cfg = dict(mode='whole')


def tiny_config(path: Path, scenes: dict | None, work_dir: Path) -> Config:
    """The config at ``path`` with weights files dropped, tiny random models, tiny data."""
    cfg = Config.fromfile(str(path))
    model = cfg.model.to_dict()
    drop_weights(model)
    cfg.model = model
    if path == PAT:
        cfg.merge_from_dict(TINY_PAT_OPTIONS)
        cfg.model.data_preprocessor.size = (64, 64)
        cfg.model.test_cfg = dict(mode='whole')
    elif path in (DENSE_CLIP, MVP_SEG):
        _tiny_clip(cfg, (1, 2) if path == DENSE_CLIP else (2,))
    elif path == GROUPVIT:
        shrink_groupvit_model(cfg.model)
        cfg.model.test_cfg = dict(mode='whole')
        for pipeline in (cfg.test_pipeline, cfg.test_dataloader.dataset.pipeline):
            for step in pipeline:
                if step['type'] == 'Resize':
                    step['scale'] = (2048, 64)
    if scenes is not None:
        _set_scenes_root(cfg, scenes['root'])
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    return cfg


def runner_checkpoint(cfg: Config) -> str:
    """One training iteration; the runner's CheckpointHook writes ``iter_1.pth``."""
    cfg = cfg.copy()
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=100)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    runner = Runner.from_cfg(cfg)
    runner.train()
    path = Path(cfg.work_dir) / 'iter_1.pth'
    assert path.is_file()
    return str(path)


def check_mmseg_tools(cfg: Config, checkpoint: str | None, image: str, classes: tuple) -> None:
    """init_model + inference_model, SegLocalVisualizer, MMSegInferencer with visualisation:
    everything names ``classes``."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = init_model(cfg.copy(), checkpoint, device='cpu')
    assert tuple(model.dataset_meta['classes']) == classes
    assert len(model.dataset_meta['palette']) == len(classes)
    result = inference_model(model, image)
    pred = result.pred_sem_seg.data
    height, width = np.asarray(Image.open(image)).shape[:2]
    assert pred.shape == (1, height, width)
    assert 0 <= int(pred.min()) and int(pred.max()) < len(classes)
    assert result.seg_logits.data.shape[0] == len(classes)

    visualizer = SegLocalVisualizer(name=f'test_{id(model)}', alpha=0.5)
    visualizer.set_dataset_meta(**model.dataset_meta)
    assert tuple(visualizer.dataset_meta['classes']) == classes
    rgb = np.asarray(Image.open(image).convert('RGB'))
    visualizer.add_datasample('img', rgb, result, draw_gt=False, with_labels=True)
    assert visualizer.get_image().shape == rgb.shape

    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        inferencer = MMSegInferencer(model=cfg.copy(), weights=checkpoint, device='cpu')
        out = inferencer(image, return_vis=True, with_labels=True)
    assert tuple(inferencer.model.dataset_meta['classes']) == classes
    assert tuple(inferencer.visualizer.dataset_meta['classes']) == classes
    assert out['visualization'].shape == (height, width, 3)
    assert out['predictions'].shape == (height, width)
    assert int(out['predictions'].max()) < len(classes)


def test_dense_clip_without_checkpoint_takes_the_test_classes(scenes, tmp_path):
    cfg = tiny_config(DENSE_CLIP, scenes, tmp_path)
    classes = tuple(scenes['meta']['classes'])
    assert classes != CITYSCAPES
    check_mmseg_tools(cfg, None, scenes['image'], classes)


def test_checkpoint_without_dataset_meta_gives_the_test_classes(scenes, tmp_path):
    cfg = tiny_config(DENSE_CLIP, scenes, tmp_path)
    model = MODELS.build(cfg.model)
    path = tmp_path / 'no_meta.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(note='no dataset_meta')), path)
    check_mmseg_tools(cfg, str(path), scenes['image'], tuple(scenes['meta']['classes']))


def test_missing_scenes_meta_is_named(tmp_path):
    cfg = tiny_config(DENSE_CLIP, None, tmp_path)
    cfg.test_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    model = init_model(cfg, None, device='cpu')
    with pytest.raises(FileNotFoundError, match='nowhere/meta.json not found'):
        _ = model.dataset_meta


def test_pat_runner_checkpoint(scenes, tmp_path):
    cfg = tiny_config(PAT, scenes, tmp_path)
    checkpoint = runner_checkpoint(cfg)
    meta = torch.load(checkpoint, map_location='cpu', weights_only=False)['meta']
    # trained on background + the seen classes, but the checkpoint records the test
    # vocabulary (the unseen classes too): a zero-shot model must be able to name them
    classes = tuple(scenes['meta']['classes'])
    assert set(scenes['meta']['unseen']) <= set(classes)
    assert tuple(meta['dataset_meta']['classes']) == classes
    assert meta['dataset_meta']['class_synonyms'] == list(classes)
    assert 'unseen_classes' in meta['train_dataset_meta']  # mmengine's entry, kept aside
    check_mmseg_tools(cfg, checkpoint, scenes['image'], classes)


def test_mvp_seg_runner_checkpoint(scenes, tmp_path):
    cfg = tiny_config(MVP_SEG, scenes, tmp_path)
    checkpoint = runner_checkpoint(cfg)
    check_mmseg_tools(cfg, checkpoint, scenes['image'], tuple(scenes['meta']['classes']))


def test_resume_sees_the_training_metainfo(scenes, tmp_path):
    cfg = tiny_config(PAT, scenes, tmp_path)
    checkpoint = runner_checkpoint(cfg)
    cfg = cfg.copy()
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=100)
    cfg.param_scheduler = []
    cfg.work_dir = str(tmp_path / 'resumed')
    runner = Runner.from_cfg(cfg)
    loaded = runner.load_checkpoint(checkpoint)
    assert loaded['meta']['dataset_meta'] == runner.train_dataloader.dataset.metainfo


def _groupvit_source(tmp_path: Path) -> str:
    torch.manual_seed(0)
    model = MODELS.build(groupvit_zero_shot_cfg('GroupViT-test'))
    path = tmp_path / 'groupvit_test_weights.pth'
    torch.save(model.state_dict(), path)
    return str(path)


def test_groupvit_converted_checkpoint(scenes, tmp_path):
    cfg = tiny_config(GROUPVIT, None, tmp_path)
    dst = tmp_path / 'groupvit_voc.pth'
    argv = [_groupvit_source(tmp_path), str(dst), '--arch', 'GroupViT-test']
    assert groupvit2mmpat.main([*argv, '--config', str(GROUPVIT)]) == 0
    meta = torch.load(dst, map_location='cpu', weights_only=False)['meta']
    assert tuple(meta['dataset_meta']['classes']) == VOC21
    check_mmseg_tools(cfg, str(dst), scenes['image'], VOC21)
    # no --config: no dataset_meta, the model takes the config's test classes (VOC-21 from the
    # dataset class, no data on disk), not mmseg's fallback
    assert groupvit2mmpat.main(argv) == 0
    assert 'dataset_meta' not in torch.load(dst, map_location='cpu', weights_only=False)['meta']
    check_mmseg_tools(cfg, str(dst), scenes['image'], VOC21)


def test_groupvit_has_what_mmseg_reads():
    model = MODELS.build(groupvit_zero_shot_cfg('GroupViT-test'))
    assert model.decode_head.num_classes == 0 and model.out_channels == 0
    # the protocol is a decode head (its weights: the image projector, the temperatures)
    assert type(model.decode_head).__name__ == 'GroupViTZeroShotHead'
    model.set_vocabulary(['background', 'cat', 'dog'])
    head = model.decode_head
    assert (head.num_classes, head.out_channels, model.num_classes) == (3, 3, 3)
    assert head.align_corners == model.align_corners and model.test_cfg.mode == 'whole'
    assert len(model.class_embeddings) == 2  # 'background' comes from the threshold


def _tiny_open_vocab(class_names=None):
    return MODELS.build(
        dict(
            type='OpenVocabEncoderDecoder',
            backbone=dict(type='CLIPPyramid', preset='ViT-test', out_indices=(1, 2)),
            text_encoder=dict(type='OpenCLIPTextEncoder', preset='ViT-test', templates='simple'),
            decode_head=dict(type='DenseCLIPHead'),
            class_names=class_names,
        )
    )


def test_dataset_meta_assignment_sets_the_vocabulary():
    model = _tiny_open_vocab(['cat', 'dog, puppy'])
    # the same display names keep the synonyms (and their embeddings), the palette follows
    embeddings = model.class_embeddings.clone()
    model.dataset_meta = dict(classes=('cat', 'dog'), palette=[[1, 2, 3], [4, 5, 6]])
    assert model.class_names == ['cat', 'dog, puppy']
    assert torch.equal(model.class_embeddings, embeddings)
    assert model.dataset_meta['palette'] == [[1, 2, 3], [4, 5, 6]]
    # other classes (a checkpoint's meta): the vocabulary changes
    model.dataset_meta = dict(classes=('sky', 'tree', 'road'), palette=None)
    assert model.class_names == ['sky', 'tree', 'road'] and model.num_classes == 3
    assert model.decode_head.num_classes == 3
    # mmseg's made-up default is refused: the model keeps its vocabulary
    with pytest.warns(UserWarning, match="mmseg's default"):
        model.dataset_meta = dict(classes=CITYSCAPES, palette=get_palette('cityscapes'))
    assert tuple(model.dataset_meta['classes']) == ('sky', 'tree', 'road')
    # synonyms recorded in a checkpoint's meta are used
    model.dataset_meta = dict(classes=('a', 'b'), class_synonyms=[['a', 'aa'], 'b, bb'])
    assert model.class_names == [['a', 'aa'], 'b, bb']


def test_mmseg_inferencer_keeps_the_checkpoint_synonyms(scenes, tmp_path):
    # mmseg's inferencer copies only classes + palette; the synonyms must survive (the same
    # embeddings as init_model gives for the checkpoint)
    cfg = tiny_config(DENSE_CLIP, scenes, tmp_path)
    model = MODELS.build(cfg.model)
    entries = ['background', 'red circle, red disc', 'blue square']
    meta = dict(
        classes=('background', 'red circle', 'blue square'),
        palette=[[0, 0, 0], [255, 0, 0], [0, 0, 255]],
        class_synonyms=entries,
    )
    path = tmp_path / 'synonyms.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=meta)), path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        inferencer = MMSegInferencer(model=cfg.copy(), weights=str(path), device='cpu')
        reference = init_model(cfg.copy(), str(path), device='cpu')
    assert inferencer.model.class_names == entries
    assert tuple(inferencer.model.dataset_meta['classes']) == meta['classes']
    assert torch.allclose(inferencer.model.class_embeddings, reference.class_embeddings)
    plain = init_model(cfg.copy(), str(path), device='cpu')
    plain.set_vocabulary(list(meta['classes']))  # what the inferencer gave before
    assert not torch.allclose(plain.class_embeddings, reference.class_embeddings)


def test_default_meta_is_used_only_without_anything_better(scenes):
    # no vocabulary, no config: mmseg's default is all there is
    model = _tiny_open_vocab()
    model.dataset_meta = dict(classes=CITYSCAPES, palette=get_palette('cityscapes'))
    assert tuple(model.dataset_meta['classes']) == CITYSCAPES
    # init_model's order: default meta first, then the config, which wins
    model = _tiny_open_vocab()
    model.dataset_meta = dict(classes=CITYSCAPES, palette=get_palette('cityscapes'))
    cfg = Config.fromfile(str(DENSE_CLIP))
    cfg.test_dataloader.dataset.data_root = scenes['root']
    model.cfg = cfg
    assert tuple(model.dataset_meta['classes']) == tuple(scenes['meta']['classes'])


def test_checkpoint_before_the_first_validation_records_the_test_classes(scenes):
    # GroupViTPretrain trained on captions (EvalVocabularyHook): no vocabulary yet at a save
    model = MODELS.build(dict(type='GroupViTPretrain', arch='GroupViT-test', num_prompts=0))
    config = ROOT / 'projects/groupvit_scenes/configs/groupvit-tiny_scenes-captions.py'
    cfg = Config.fromfile(str(config))
    cfg.test_dataloader.dataset.data_root = scenes['root']
    runner = SimpleNamespace(model=model, cfg=cfg, logger=None)
    checkpoint = dict(meta=dict(dataset_meta=dict()))
    EvalVocabularyHook().before_save_checkpoint(runner, checkpoint)
    assert tuple(checkpoint['meta']['dataset_meta']['classes']) == tuple(scenes['meta']['classes'])
    EvalVocabularyHook().after_load_checkpoint(runner, checkpoint)
    assert checkpoint['meta']['dataset_meta'] == {}


def test_groupvit_checkpoint_helper():
    state = {'logit_scale': torch.tensor(1.0)}
    assert 'dataset_meta' not in groupvit_checkpoint(state)['meta']
    with pytest.raises(ValueError, match='classes'):
        groupvit_checkpoint(state, dataset_meta=dict(palette=[]))


def test_16_bit_label_configs_infer_on_a_bare_image(scenes, tmp_path):
    # PC-459's test pipeline loads 16-bit labels with LoadAnnotationsUint16, which mmseg's
    # inference_model does not remove: it must do nothing on an image without a label map.
    cfg = Config.fromfile(
        str(ROOT / 'configs/dense_clip/dense-clip_vit-b16_zeroshot_pascal-context-459.py')
    )
    model = cfg.model.to_dict()
    drop_weights(model)
    cfg.model = model
    _tiny_clip(cfg, (1, 2))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        segmentor = init_model(cfg, None, device='cpu')
    assert len(segmentor.dataset_meta['classes']) == 459
    result = inference_model(segmentor, scenes['image'])
    assert result.seg_logits.data.shape[0] == 459
