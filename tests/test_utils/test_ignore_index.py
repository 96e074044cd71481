"""check_ignore_index: agreement per phase, defaults from the registered classes, clear errors."""

from __future__ import annotations

import copy

import pytest
from mmengine.config import Config

from mmpat.utils.ignore_index import check_ignore_index


def make_cfg(ignore: int = 65535) -> dict:
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotationsUint16', ignore_index=ignore),
        dict(type='RandomCrop', crop_size=(8, 8), cat_max_ratio=0.75, ignore_index=ignore),
        dict(type='PackSegInputs'),
    ]
    dataset = dict(type='ADE20K847Dataset', data_root='x', ignore_index=ignore, pipeline=pipeline)
    return dict(
        model=dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', seg_pad_val=ignore),
            decode_head=dict(type='FCNHead', ignore_index=ignore),
            auxiliary_head=[dict(type='FCNHead', ignore_index=ignore)],
        ),
        train_dataloader=dict(dataset=dict(type='RepeatDataset', times=2, dataset=dataset)),
        val_dataloader=dict(dataset=copy.deepcopy(dataset)),
        test_dataloader=dict(dataset=copy.deepcopy(dataset)),
        val_evaluator=dict(type='IoUMetric', ignore_index=ignore),
        test_evaluator=[dict(type='IoUMetric', ignore_index=ignore)],
    )


def test_consistent_config_passes():
    assert check_ignore_index(make_cfg()) == {'train': 65535, 'val': 65535, 'test': 65535}
    assert check_ignore_index(Config(make_cfg(255))) == {'train': 255, 'val': 255, 'test': 255}


@pytest.mark.parametrize(
    'path, where',
    [
        (('model', 'data_preprocessor', 'seg_pad_val'), 'model.data_preprocessor.seg_pad_val'),
        (('model', 'decode_head', 'ignore_index'), 'model.decode_head.ignore_index'),
        (('val_evaluator', 'ignore_index'), 'val_evaluator[0].ignore_index (IoUMetric)'),
    ],
)
def test_one_disagreeing_place_is_named(path, where):
    cfg = make_cfg()
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = 255
    with pytest.raises(ValueError, match='disagrees') as error:
        check_ignore_index(cfg)
    assert f'{where} = 255' in str(error.value)


def test_defaults_come_from_the_classes():
    cfg = make_cfg()
    del cfg['model']['decode_head']['ignore_index']  # FCNHead -> BaseDecodeHead default 255
    with pytest.raises(ValueError, match=r'model.decode_head.ignore_index = 255'):
        check_ignore_index(cfg)
    cfg = make_cfg()
    del cfg['test_evaluator'][0]['ignore_index']  # IoUMetric default 255
    with pytest.raises(ValueError, match=r'test: the ignore index disagrees'):
        check_ignore_index(cfg)
    cfg = make_cfg()
    for phase in ('val', 'test'):  # ADE20K847Dataset / LoadAnnotationsUint16 default to 65535
        del cfg[f'{phase}_dataloader']['dataset']['ignore_index']
        del cfg[f'{phase}_dataloader']['dataset']['pipeline'][1]['ignore_index']
    assert check_ignore_index(cfg)['val'] == 65535


def test_phases_are_independent():
    cfg = make_cfg(255)
    cfg['val_dataloader'] = make_cfg(65535)['val_dataloader']
    cfg['val_evaluator'] = dict(type='IoUMetric', ignore_index=65535)
    assert check_ignore_index(cfg) == {'train': 255, 'val': 65535, 'test': 255}


def test_random_crop_only_counts_with_cat_max_ratio():
    cfg = make_cfg()
    crop = cfg['train_dataloader']['dataset']['dataset']['pipeline'][2]
    del crop['ignore_index']
    with pytest.raises(ValueError, match='RandomCrop.ignore_index'):
        check_ignore_index(cfg)
    crop['cat_max_ratio'] = 1.0
    assert check_ignore_index(cfg)['train'] == 65535


def test_uint8_loader_with_16bit_ignore():
    cfg = make_cfg()
    cfg['test_dataloader']['dataset']['pipeline'][1] = dict(type='LoadAnnotations')
    with pytest.raises(ValueError, match='uint8 label loader'):
        check_ignore_index(cfg)


def test_nested_test_time_aug_and_concat():
    cfg = make_cfg()
    tta = dict(
        type='TestTimeAug',
        transforms=[[dict(type='LoadAnnotationsUint16', ignore_index=255)]],
    )
    cfg['test_dataloader']['dataset'] = dict(
        type='ConcatDataset',
        datasets=[cfg['test_dataloader']['dataset'], dict(type='ADE20K847Dataset', pipeline=[tta])],
    )
    with pytest.raises(ValueError, match=r'datasets\[1\].pipeline\[0\].transforms\[0\]\[0\]'):
        check_ignore_index(cfg)
