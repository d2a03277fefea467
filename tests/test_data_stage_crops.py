"""Stage-1 and stage-2 crop windows against hand-computed cases."""

import numpy as np
import pytest

from keras_deconvnet.data import stage_crops
from keras_deconvnet.data.arrays import ArraySegmentation


def _source(instances):
    images = [np.zeros((40, 60, 3), np.uint8) for _ in instances]
    labels = [np.zeros((40, 60), np.int32) for _ in instances]
    return ArraySegmentation(
        images, labels, instances, num_classes=21, ignore_label=255
    )


def _iou(a, b):
    # Written out separately from boxes.box_iou, as a reference.
    height = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    width = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = height * width
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_object_windows_one_per_instance_with_margin():
    source = _source(
        [
            [(15, [10, 20, 20, 40]), (7, [0, 0, 40, 60])],
            [(1, [5.5, 5.5, 9.5, 9.5])],
        ]
    )
    indices, windows = stage_crops.object_windows(source, margin=0.5)
    np.testing.assert_array_equal(indices, [0, 0, 1])
    np.testing.assert_array_equal(
        windows,
        [
            [5, 10, 25, 50],  # 10 rows, 20 columns: +5 rows, +10 columns
            [-20, -30, 60, 90],  # leaves the image: padded later
            [3, 3, 12, 12],  # [3.5, 3.5, 11.5, 11.5] rounded outwards
        ],
    )


def test_select_overlapping_keeps_exactly_those_above_threshold():
    rng = np.random.default_rng(0)
    ground_truth = np.float32([[10, 10, 50, 50], [30, 60, 90, 100]])
    corners = rng.uniform(0, 100, (400, 2, 2))
    proposals = np.concatenate(
        [corners.min(1), corners.max(1) + 1], axis=1
    ).astype(np.float32)
    proposals[:3] = [[10, 10, 50, 50], [10, 10, 50, 90], [10, 10, 30, 50]]
    for threshold in (0.3, 0.5, 0.7):
        kept = stage_crops.select_overlapping(
            proposals, ground_truth, threshold
        )
        expected = [
            i
            for i, p in enumerate(proposals)
            if max(_iou(p, g) for g in ground_truth) >= threshold
        ]
        np.testing.assert_array_equal(kept, expected)
    # IoU exactly 0.5 (a half of the box) is kept at 0.5, dropped above.
    assert 1 in stage_crops.select_overlapping(
        proposals[:3], ground_truth, 0.5
    )
    assert 2 in stage_crops.select_overlapping(
        proposals[:3], ground_truth, 0.5
    )
    assert 2 not in stage_crops.select_overlapping(
        proposals[:3], ground_truth, 0.51
    )
    with pytest.raises(ValueError, match="iou_threshold"):
        stage_crops.select_overlapping(proposals, ground_truth, 0.0)


def test_proposal_windows():
    source = _source([[(15, [0, 0, 20, 20])], []])
    proposals = [
        np.float32([[0, 0, 20, 20], [0, 0, 20, 40], [0, 0, 22, 20]]),
        np.float32([[0, 0, 10, 10]]),  # no instance: nothing kept
    ]
    indices, windows = stage_crops.proposal_windows(
        source, proposals, iou_threshold=0.6, margin=0.1
    )
    np.testing.assert_array_equal(indices, [0, 0])
    np.testing.assert_array_equal(
        windows, [[-2, -2, 22, 22], [-3, -2, 25, 22]]
    )


def test_whole_windows_and_missing_instances():
    source = _source([[], []])
    indices, windows = stage_crops.whole_windows(source)
    np.testing.assert_array_equal(windows, [[0, 0, 40, 60]] * 2)
    no_instances = ArraySegmentation(
        [np.zeros((4, 4, 3), np.uint8)],
        [np.zeros((4, 4))],
        num_classes=2,
        ignore_label=255,
    )
    with pytest.raises(ValueError, match="crops='whole'"):
        stage_crops.object_windows(no_instances)
