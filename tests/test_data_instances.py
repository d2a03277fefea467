"""Instances from VOC object maps and from connected components."""

import numpy as np

from keras_deconvnet.data.instances import instances_from_components
from keras_deconvnet.data.instances import instances_from_object_map


def test_object_map_majority_class_and_own_pixels():
    object_map = np.zeros((10, 12), np.int32)
    object_map[1:4, 2:6] = 1
    object_map[6:9, 0:12] = 2
    object_map[5, :] = 255  # boundary band: part of no instance
    object_map[0, 11] = 3  # an instance whose pixels are all ignore
    class_map = np.where(object_map == 1, 15, 0)
    class_map[object_map == 2] = 7
    class_map[8, 0] = 9  # a stray pixel: the majority class wins
    class_map[object_map == 255] = 255
    class_map[0, 11] = 255
    found = instances_from_object_map(object_map, class_map)
    assert [(c, b.tolist()) for c, b in found] == [
        (15, [1, 2, 4, 6]),
        (7, [6, 0, 9, 12]),
    ]


def test_components_skip_ignore_background_and_small():
    label = np.full((8, 8), 0)
    label[0:2, 0:2] = 3
    label[5:8, 5:8] = 3
    label[4, 0] = 3  # one pixel
    label[0:3, 5:8] = 255
    found = instances_from_components(
        label, ignore_label=255, background_label=0, min_area=2
    )
    assert [(c, b.tolist()) for c, b in found] == [
        (3, [0, 0, 2, 2]),
        (3, [5, 5, 8, 8]),
    ]
    assert instances_from_components(np.full((3, 3), 255), 255) == []
