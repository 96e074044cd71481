"""OpenVocabIoUMetric against an independent numpy computation (ignore pixels, absent classes,
seen/unseen splits from the dataset meta or the config), and its errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

CLASSES = ('background', 'red circle', 'red square', 'blue circle', 'blue square', 'green star')
META = dict(
    classes=CLASSES,
    seen_classes=('red circle', 'blue square', 'green star'),
    unseen_classes=('red square', 'blue circle'),
)


def reference(preds, gts, ignore, groups):
    """Pixel-loop-free numpy IoU: per class, |P & G| / |P | G| over non-ignored pixels."""
    n = len(CLASSES)
    inter = np.zeros(n)
    union = np.zeros(n)
    for p, g in zip(preds, gts):
        keep = g != ignore
        p, g = p[keep], g[keep]
        for c in range(n):
            inter[c] += np.sum((p == c) & (g == c))
            union[c] += np.sum((p == c) | (g == c))
    iou = np.array([i / u if u else np.nan for i, u in zip(inter, union)])

    def mean(idx):
        values = [iou[i] for i in idx if not np.isnan(iou[i])]
        return 100 * float(np.mean(values)) if values else float('nan')

    out = {name: mean(idx) for name, idx in groups.items()}
    s, u = out['mIoU_seen'], out['mIoU_unseen']
    out['hIoU'] = 2 * s * u / (s + u)
    return out, iou


def random_maps(seed, absent=(3,), never_predicted=(3,)):
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(4):
        h, w = rng.integers(5, 12, size=2)
        gt = rng.integers(0, len(CLASSES), size=(h, w))
        pred = np.where(rng.random((h, w)) < 0.6, gt, rng.integers(0, len(CLASSES), size=(h, w)))
        for c in absent:
            gt[gt == c] = 0
        for c in never_predicted:
            pred[pred == c] = 0
        gt[rng.random((h, w)) < 0.15] = 255
        # Predictions under ignored pixels must not count: make them wildly wrong.
        pred[gt == 255] = 2
        preds.append(pred)
        gts.append(gt)
    return preds, gts


def run_metric(metric, preds, gts):
    for p, g in zip(preds, gts):
        sample = SegDataSample()
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(p)[None])
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(g)[None])
        metric.process({}, [sample.to_dict()])
    return metric.evaluate(len(preds))


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_numpy_with_split_from_dataset_meta(seed):
    metric = METRICS.build(dict(type='OpenVocabIoUMetric'))
    metric.dataset_meta = META
    preds, gts = random_maps(seed)
    got = run_metric(metric, preds, gts)
    # blue circle (3) is absent and never predicted: NaN and left out of every mean.
    groups = dict(mIoU=[0, 1, 2, 4, 5], mIoU_seen=[0, 1, 4, 5], mIoU_unseen=[2])
    want, iou = reference(preds, gts, 255, groups)
    assert math.isnan(iou[3])
    for key, value in want.items():
        assert got[key] == pytest.approx(round(value, 2), abs=0.011), key
    assert set(got) >= {'mIoU', 'mIoU_seen', 'mIoU_unseen', 'hIoU'}


def test_background_not_counted_and_config_split():
    preds, gts = random_maps(5, absent=(), never_predicted=())
    metric = METRICS.build(
        dict(
            type='OpenVocabIoUMetric',
            count_background=False,
            seen_classes=['red circle', 'red square'],
            unseen_classes=['green star', 'blue circle'],
            dataset_meta=META,  # the config split wins over the meta's
        )
    )
    got = run_metric(metric, preds, gts)
    groups = dict(mIoU=[1, 2, 3, 5], mIoU_seen=[1, 2], mIoU_unseen=[3, 5])
    want, _ = reference(preds, gts, 255, groups)
    for key, value in want.items():
        assert got[key] == pytest.approx(round(value, 2), abs=0.011), key


def test_only_unseen_given_and_custom_ignore_index():
    preds, gts = random_maps(7, absent=(), never_predicted=())
    gts = [np.where(g == 255, 0, g) for g in gts]  # background is now "ignored" (index 0)
    metric = METRICS.build(
        dict(
            type='OpenVocabIoUMetric',
            ignore_index=0,
            unseen_classes=['blue square'],
            dataset_meta=dict(classes=CLASSES),
        )
    )
    got = run_metric(metric, preds, gts)
    groups = dict(mIoU=[0, 1, 2, 3, 4, 5], mIoU_seen=[0, 1, 2, 3, 5], mIoU_unseen=[4])
    want, iou = reference(preds, gts, 0, groups)
    assert iou[0] == 0  # background predicted on non-ignored pixels but never in the labels
    for key, value in want.items():
        assert got[key] == pytest.approx(round(value, 2), abs=0.011), key


def test_prints_a_table_with_the_split(capsys):
    from mmengine.logging import MMLogger

    MMLogger.get_instance('ov_iou_test', log_level='INFO')
    metric = METRICS.build(dict(type='OpenVocabIoUMetric', dataset_meta=META))
    preds, gts = random_maps(0)
    metric.evaluate_maps(preds, gts)
    text = capsys.readouterr().out
    assert 'Split' in text and 'unseen' in text and 'red square' in text and 'hIoU' in text


def test_evaluate_maps_matches_process_path():
    preds, gts = random_maps(3)
    a = METRICS.build(dict(type='OpenVocabIoUMetric', dataset_meta=META)).evaluate_maps(preds, gts)
    metric = METRICS.build(dict(type='OpenVocabIoUMetric'))
    metric.dataset_meta = META
    assert run_metric(metric, preds, gts) == a


def test_errors():
    with pytest.raises(ValueError, match=r"\['purple cow'\] in unseen_classes"):
        METRICS.build(
            dict(type='OpenVocabIoUMetric', unseen_classes=['purple cow'], dataset_meta=META)
        )
    metric = METRICS.build(dict(type='OpenVocabIoUMetric', seen_classes=['red circle', 'pink']))
    with pytest.raises(ValueError, match="'pink'"):
        metric.dataset_meta = META  # checked as soon as the evaluator hands over the meta
    with pytest.raises(ValueError, match='both seen and unseen'):
        METRICS.build(
            dict(
                type='OpenVocabIoUMetric',
                seen_classes=['red circle'],
                unseen_classes=['red circle'],
                dataset_meta=META,
            )
        )
    with pytest.raises(TypeError, match='list of class names'):
        METRICS.build(dict(type='OpenVocabIoUMetric', unseen_classes='red circle'))


def test_no_unseen_gives_nan():
    preds, gts = random_maps(1)
    got = METRICS.build(
        dict(type='OpenVocabIoUMetric', dataset_meta=dict(classes=CLASSES))
    ).evaluate_maps(preds, gts)
    assert math.isnan(got['mIoU_unseen']) and math.isnan(got['hIoU'])
    assert got['mIoU_seen'] == got['mIoU']


# --- average='all' (mmseg) vs average='present' (detectron2) ----------------------------------

HAND_META = dict(classes=('background', 'cat', 'dog', 'bird'))
# One 1 x 8 image; 'bird' (3) has no ground-truth pixel but is predicted twice.
HAND_GT = np.array([[0, 0, 1, 1, 1, 2, 2, 2]])
HAND_PRED = np.array([[0, 3, 1, 1, 2, 2, 2, 3]])


def hand_metric(average, **kwargs):
    return METRICS.build(
        dict(type='OpenVocabIoUMetric', average=average, dataset_meta=HAND_META, **kwargs)
    )


def test_the_two_modes_on_a_hand_made_case():
    # Per class (intersection / union): background 1/2, cat 2/3, dog 2/4, bird 0/2 (absent).
    bg, cat, dog, bird = 1 / 2, 2 / 3, 2 / 4, 0 / 2
    split = dict(seen_classes=['cat'], unseen_classes=['dog', 'bird'])  # background is seen
    every = hand_metric('all', **split).evaluate_maps([HAND_PRED], [HAND_GT])
    present = hand_metric('present', **split).evaluate_maps([HAND_PRED], [HAND_GT])

    def h(s, u):
        return 2 * s * u / (s + u)

    want_all = dict(
        mIoU=(bg + cat + dog + bird) / 4,  # bird counts with IoU 0
        mIoU_seen=(bg + cat) / 2,
        mIoU_unseen=(dog + bird) / 2,
        hIoU=h((bg + cat) / 2, (dog + bird) / 2),
    )
    want_present = dict(
        mIoU=(bg + cat + dog) / 3,  # bird has no ground-truth pixel: left out
        mIoU_seen=(bg + cat) / 2,
        mIoU_unseen=dog,
        hIoU=h((bg + cat) / 2, dog),
    )
    for key in want_all:
        assert every[key] == round(100 * want_all[key], 2), key
        assert present[key] == round(100 * want_present[key], 2), key
    # The mode changes the mean by 100 * (0.5556 - 0.4167) = 13.89 points here.
    assert present['mIoU'] - every['mIoU'] == pytest.approx(13.89, abs=0.011)
    for result in (every, present):  # neither depends on the mode
        assert result['aAcc'] == round(100 * 5 / 8, 2)
        assert result['mAcc'] == round(100 * (1 / 2 + 2 / 3 + 2 / 3) / 3, 2)  # present classes


def test_modes_agree_unless_an_absent_class_is_predicted():
    preds, gts = random_maps(4, absent=(3,), never_predicted=(3,))
    a = METRICS.build(dict(type='OpenVocabIoUMetric', dataset_meta=META)).evaluate_maps(preds, gts)
    p = METRICS.build(
        dict(type='OpenVocabIoUMetric', average='present', dataset_meta=META)
    ).evaluate_maps(preds, gts)
    assert a == p
    preds, gts = random_maps(4, absent=(3,), never_predicted=())
    assert any(3 in pred for pred in preds)
    a = METRICS.build(dict(type='OpenVocabIoUMetric', dataset_meta=META)).evaluate_maps(preds, gts)
    p = METRICS.build(
        dict(type='OpenVocabIoUMetric', average='present', dataset_meta=META)
    ).evaluate_maps(preds, gts)
    # blue circle (3, unseen) is predicted but absent: IoU 0 in 'all', left out in 'present'.
    assert p['mIoU'] > a['mIoU'] and p['mIoU_unseen'] > a['mIoU_unseen']
    assert p['mIoU_seen'] == a['mIoU_seen'] and p['aAcc'] == a['aAcc'] and p['mAcc'] == a['mAcc']


@pytest.mark.parametrize('seed', [0, 6])
def test_all_mode_is_mmseg_iou_metric(seed):
    """'all' (the default) is mmseg's IoUMetric mIoU: nanmean over every class."""
    preds, gts = random_maps(seed, absent=(3,), never_predicted=())
    ours = METRICS.build(dict(type='OpenVocabIoUMetric', dataset_meta=dict(classes=CLASSES)))
    mmseg = METRICS.build(dict(type='IoUMetric', iou_metrics=['mIoU']))
    mmseg.dataset_meta = dict(classes=CLASSES)
    got, want = run_metric(ours, preds, gts), run_metric(mmseg, preds, gts)
    for key in ('mIoU', 'aAcc', 'mAcc'):
        assert got[key] == pytest.approx(want[key], abs=0.0101), key


def test_the_log_names_the_mode(capsys):
    from mmengine.logging import MMLogger

    MMLogger.get_instance('ov_iou_mode_test', log_level='INFO')
    hand_metric('present').evaluate_maps([HAND_PRED], [HAND_GT])
    text = capsys.readouterr().out
    assert "average='present'" in text and 'mIoU over 3 of 4 classes' in text
    hand_metric('all').evaluate_maps([HAND_PRED], [HAND_GT])
    assert "average='all'" in capsys.readouterr().out


def test_an_unknown_mode_is_a_clear_error():
    with pytest.raises(ValueError, match=r"average must be one of \('all', 'present'\).*'mean'"):
        METRICS.build(dict(type='OpenVocabIoUMetric', average='mean'))
