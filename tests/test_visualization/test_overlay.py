"""draw_comparison: image | ground truth | prediction, enlarged, one legend."""

from __future__ import annotations

import numpy as np
import pytest

from mmpat.visualization import draw_comparison

PALETTE = [[0, 0, 0], [255, 0, 0], [0, 0, 255]]
NAMES = ['background', 'red circle', 'blue square']


def test_panels_are_enlarged_and_coloured_where_labelled():
    image = np.full((4, 6, 3), 100, np.uint8)
    truth = np.zeros((4, 6), np.int64)
    truth[0, 0] = 255  # ignored: the bare image
    truth[2:, 3:] = 1
    prediction = np.full((4, 6), 2)
    out = draw_comparison(image, truth, prediction, NAMES, PALETTE, scale=3, opacity=1.0)
    title = 14
    assert out.shape[0] >= title + 12 and out.shape[1] > 3 * 18  # 3 panels + a legend
    panel = lambda k: out[title : title + 12, 18 * k : 18 * (k + 1)]  # noqa: E731
    np.testing.assert_array_equal(panel(0), np.full((12, 18, 3), 100))  # the image, 3x
    gt = panel(1)
    assert (gt[:3, :3] == 100).all()  # ignore_index pixel (3x3 block) uncoloured
    assert (gt[6:, 9:] == [255, 0, 0]).all() and (gt[3:6, :3] == [0, 0, 0]).all()
    assert (panel(2) == [0, 0, 255]).all()  # the prediction, every pixel class 2
    legend = out[:, 54:]
    for colour in PALETTE:  # every class of either map has a swatch
        assert (legend == colour).all(axis=-1).any(), colour


def test_sizes_must_agree():
    image = np.zeros((4, 6, 3), np.uint8)
    with pytest.raises(ValueError, match=r'ground truth \(4, 5\)'):
        draw_comparison(image, np.zeros((4, 5), int), np.zeros((4, 6), int), NAMES, PALETTE)
    with pytest.raises(ValueError, match='scale must be >= 1'):
        draw_comparison(
            image, np.zeros((4, 6), int), np.zeros((4, 6), int), NAMES, PALETTE, scale=0
        )
