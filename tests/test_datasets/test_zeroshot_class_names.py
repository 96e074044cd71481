"""Class lists of the zero-shot benchmarks: counts, uniqueness, anchors, splits."""

from __future__ import annotations

import pytest
from mmseg.datasets import ADE20KDataset, PascalContextDataset59

from mmpat.datasets import class_names as cn

COUNTS = {
    'ade150': 150,
    'ade150_synonyms': 150,
    'ade847': 847,
    'pascal_context59': 59,
    'pascal_context459': 459,
    'context60': 60,
    'voc20': 20,
    'voc21': 21,
    'voc20_groupvit': 20,
    'voc21_groupvit': 21,
    'coco_stuff171': 171,
    'coco_object80': 80,
    'coco_object81': 81,
}


@pytest.mark.parametrize('name', sorted(COUNTS))
def test_count_and_unique(name):
    classes = cn.get_class_names(name)
    assert len(classes) == COUNTS[name]
    assert len(set(classes)) == len(classes)
    assert all(c == c.strip() and c for c in classes)


def test_aliases_and_unknown():
    assert cn.get_class_names('A-847') is cn.ADE847_CLASSES
    assert cn.get_class_names('PC-459') is cn.PC459_CLASSES
    assert cn.get_class_names('COCO-Object') is cn.COCO_OBJECT81_CLASSES
    with pytest.raises(KeyError, match='known'):
        cn.get_class_names('ade-9000')


def test_ade847_anchors():
    # (train id, ADE object id, first name) from the published A-847 table.
    anchors = [
        (0, 2978, 'wall'),
        (1, 312, 'building'),
        (11, 1831, 'person'),
        (99, 3144, 'aircraft carrier'),
        (150, 206, 'blanket'),
        (255, 1857, 'pier'),
        (300, 3108, 'altar'),
        (500, 430, 'cat'),
        (511, 2879, 'truck crane'),
        (512, 444, 'cds'),
        (700, 1908, 'plant pots'),
        (846, 3148, 'adding machine'),
    ]
    for index, ade_id, name in anchors:
        assert cn.ADE847_ADE_IDS[index] == ade_id
        assert cn.ADE847_CLASSES[index].split(',')[0] == name
    assert len(set(cn.ADE847_ADE_IDS)) == 847
    assert cn.ADE847_CLASSES[79].endswith('information processing system')  # continued line


def test_ade847_first_names_unique_and_synonyms_kept():
    from mmpat.utils.vocabulary import parse_vocabulary

    firsts = [c.split(',')[0] for c in cn.ADE847_CLASSES]
    assert len(set(firsts)) == 847
    assert (
        len(set(c.split(',')[0] for c in cn.ADE847_CANONICAL_NAMES)) == 837
    )  # nine shared first names (bag x3)
    changed = 0
    for new, old in zip(cn.ADE847_CLASSES, cn.ADE847_CANONICAL_NAMES):
        synonyms = sorted(x.strip() for x in new.split(','))
        assert synonyms == sorted(x.strip() for x in old.split(','))
        changed += new != old
    assert changed == 11
    assert len(parse_vocabulary(list(cn.ADE847_CLASSES))) == 847


def test_ade150_synonyms_match_mmseg_names():
    mmseg_names = [c.strip() for c in ADE20KDataset.METAINFO['classes']]
    assert [s.split(',')[0] for s in cn.ADE150_SYNONYMS] == mmseg_names
    assert list(cn.ADE150_CLASSES) == mmseg_names
    # The A-150 classes are A-847 classes (merged 'door, double door' and 'crt screen' aside).
    missing = [s for s in cn.ADE150_SYNONYMS if s not in cn.ADE847_CANONICAL_NAMES]
    assert missing == ['door, double door', 'crt screen']


def test_pc459_positions_of_pc59_classes():
    # mmseg's PASCAL Context converter keeps these 459-label ids (1-based) for the 59 classes,
    # in this (sorted) order: an independent check of the 459 list's order and spelling.
    kept = sorted(
        [
            2,
            259,
            260,
            415,
            324,
            9,
            258,
            144,
            18,
            19,
            22,
            23,
            397,
            25,
            284,
            158,
            159,
            416,
            33,
            162,
            420,
            454,
            295,
            296,
            427,
            44,
            45,
            46,
            308,
            59,
            440,
            445,
            31,
            232,
            65,
            354,
            424,
            68,
            326,
            72,
            458,
            34,
            207,
            80,
            355,
            85,
            347,
            220,
            349,
            360,
            98,
            187,
            104,
            105,
            366,
            189,
            368,
            113,
            115,
        ]
    )
    assert [cn.PC459_CLASSES[i - 1] for i in kept] == list(
        PascalContextDataset59.METAINFO['classes']
    )
    assert cn.PC459_CLASSES[0] == 'accordion' and cn.PC459_CLASSES[-1] == 'wool'


def test_background_variants():
    assert cn.VOC21_GROUPVIT_CLASSES[0] == cn.CONTEXT60_CLASSES[0] == 'background'
    assert cn.COCO_OBJECT81_CLASSES[0] == 'background'
    assert cn.VOC21_GROUPVIT_CLASSES[11] == 'table'
    assert cn.VOC21_GROUPVIT_CLASSES[16] == 'plant'
    assert cn.VOC21_GROUPVIT_CLASSES[20] == 'monitor'
    assert cn.VOC21_CLASSES[20] == 'tvmonitor'
    assert cn.COCO_OBJECT80_CLASSES[0] == 'person' and cn.COCO_OBJECT80_CLASSES[-1] == 'toothbrush'
    assert cn.CONTEXT60_CLASSES[1:] == cn.PC59_CLASSES


@pytest.mark.parametrize(
    'key, classes, num_unseen',
    [
        ('voc20', cn.VOC20_CLASSES, 5),
        ('coco_stuff171', cn.COCO_STUFF171_CLASSES, 15),
        ('pascal_context59', cn.PC59_CLASSES, 10),
    ],
)
def test_unseen_splits(key, classes, num_unseen):
    seen, unseen = cn.seen_unseen_split(classes, cn.UNSEEN_CLASSES[key])
    assert len(unseen) == num_unseen
    assert sorted(seen + unseen) == list(range(len(classes)))
    assert {classes[i] for i in unseen} == set(cn.UNSEEN_CLASSES[key])


def test_unseen_split_indices():
    _, unseen = cn.seen_unseen_split(cn.VOC20_CLASSES, cn.UNSEEN_CLASSES['voc20'])
    assert unseen == [15, 16, 17, 18, 19]  # pottedplant, sheep, sofa, train, tvmonitor
    with pytest.raises(ValueError, match='not in the class list'):
        cn.seen_unseen_split(cn.VOC20_CLASSES, ['unicorn'])


@pytest.mark.parametrize(
    'key', ['voc20', 'voc21', 'pascal_context59', 'context60', 'coco_stuff171', 'coco_object81']
)
def test_readable_variants_keep_first_names(key):
    base, readable = cn.CLASS_LISTS[key], cn.CLASS_LISTS[f'{key}_readable']
    assert [c.split(',')[0] for c in readable] == list(base)
    assert len(set(readable)) == len(base)


def test_readable_names():
    names = dict(zip(cn.COCO_STUFF171_CLASSES, cn.CLASS_LISTS['coco_stuff171_readable']))
    assert names['wall-brick'] == 'wall-brick, brick wall'
    assert names['building-other'] == 'building-other, building'
    assert names['window-blind'] == 'window-blind, window blind'
    assert names['person'] == 'person'
    assert cn.with_readable_synonyms(['pottedplant', 'sheep']) == (
        'pottedplant, potted plant',
        'sheep',
    )
