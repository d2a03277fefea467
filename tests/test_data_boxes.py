"""Box convention and geometry, against hand-computed cases."""

import numpy as np
import pytest

from keras_deconvnet.data import boxes


def test_box_from_mask_uses_exclusive_pixel_edges():
    # Rows 10..19 and columns 5..9 inclusive -> [10, 5, 20, 10].
    mask = np.zeros((30, 30), bool)
    mask[10:20, 5:10] = True
    np.testing.assert_array_equal(
        boxes.box_from_mask(mask), np.float32([10, 5, 20, 10])
    )
    single = np.zeros((4, 4), bool)
    single[3, 0] = True
    np.testing.assert_array_equal(boxes.box_from_mask(single), [3, 0, 4, 1])
    assert boxes.box_from_mask(np.zeros((4, 4), bool)) is None


def test_box_iou_hand_computed():
    a = [[0, 0, 10, 10]]
    b = [[0, 5, 10, 15], [20, 20, 30, 30], [0, 0, 10, 10], [2, 2, 4, 4]]
    # Overlap 50 / union 150; disjoint; identical; 4 inside 100.
    np.testing.assert_allclose(
        boxes.box_iou(a, b), [[50 / 150, 0.0, 1.0, 4 / 100]], rtol=1e-6
    )


def test_extend_boxes_grows_each_side_by_margin_of_size():
    extended = boxes.extend_boxes(np.float32([[10, 20, 20, 40]]), margin=0.5)
    # Height 10, width 20: 5 rows and 10 columns on every side.
    np.testing.assert_array_equal(extended, [[5, 10, 25, 50]])
    np.testing.assert_array_equal(
        boxes.extend_boxes([1, 2, 3, 4], 0.0), np.float32([1, 2, 3, 4])
    )
    with pytest.raises(ValueError, match="margin"):
        boxes.extend_boxes([0, 0, 1, 1], -0.1)


def test_pixel_windows_round_outwards():
    windows = boxes.pixel_windows(
        np.float32([[1.5, -2.5, 3.2, 4.0], [2, 2, 2, 2]])
    )
    np.testing.assert_array_equal(windows, [[1, -3, 4, 4], [2, 2, 3, 3]])
    assert windows.dtype == np.int32
