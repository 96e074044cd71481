"""Each dense-CLIP zero-shot benchmark config runs ``Runner.test()`` end to end on fabricated data
in its benchmark's layout (random tiny CLIP instead of ViT-B/16 weights): the vocabulary comes
from the dataset, every class is scored, and the ignore index agrees from loader to metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from module_cases.zeroshot_datasets import fabricate

from mmpat.utils.ignore_index import check_ignore_index

ROOT = Path(__file__).resolve().parents[2] / 'configs' / 'dense_clip'
# config suffix -> (fabrication key, number of classes, ignore index)
BENCHMARKS = {
    'ade20k-150': ('ade150', 150, 255),
    'ade20k-847': ('ade847', 847, 65535),
    'pascal-context-59': ('pascal_context59', 59, 255),
    'pascal-context-459': ('pascal_context459', 459, 65535),
    'voc-20': ('voc20', 20, 255),
    'coco-stuff-171': ('coco_stuff171', 171, 255),
}


def test_every_benchmark_has_a_config():
    names = {p.stem.split('_zeroshot_')[1] for p in ROOT.glob('dense-clip_vit-b16_zeroshot_*.py')}
    assert names == set(BENCHMARKS)


@pytest.mark.parametrize('name', sorted(BENCHMARKS))
def test_dense_clip_config_evaluates(tmp_path, name):
    key, num_classes, ignore = BENCHMARKS[name]
    cfg = Config.fromfile(str(ROOT / f'dense-clip_vit-b16_zeroshot_{name}.py'))
    checked = check_ignore_index(cfg)
    assert (checked['val'], checked['test']) == (ignore, ignore)
    fabricate(tmp_path / 'data', key, num=1, size=(20, 24))
    loader = cfg.test_dataloader
    loader.update(num_workers=0, persistent_workers=False)
    loader.dataset.data_root = str(tmp_path / 'data')
    for step in loader.dataset.pipeline:
        if step['type'] == 'Resize':
            step['scale'] = (64, 32)  # short side 32 instead of 448/512, for speed
    cfg.model.backbone.update(preset='ViT-test', pretrained=None, out_indices=(1, 2))
    # one template instead of MaskCLIP's 85: 847 x 85 prompts would dominate the test's time
    cfg.model.text_encoder.update(
        preset='ViT-test', pretrained=None, cache_dir=None, templates='simple'
    )
    cfg.model.test_cfg.update(crop_size=(32, 32), stride=(16, 16))
    cfg.update(work_dir=str(tmp_path / 'work'), log_level='WARNING', val_dataloader=loader)

    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    model = runner.model
    assert model.num_classes == num_classes
    # the model keeps each class's first name; the dataset lists synonyms after a comma
    dataset_classes = runner.test_dataloader.dataset.metainfo['classes']
    assert list(model.dataset_meta['classes']) == [c.split(',')[0] for c in dataset_classes]
    assert np.isfinite(metrics['mIoU']) and 0 <= metrics['mIoU'] <= 100
