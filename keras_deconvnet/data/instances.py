"""Object instances (`(class_id, box)` pairs) from masks. NumPy/SciPy only.

Boxes follow `keras_deconvnet.data.boxes`: `[y1, x1, y2, x2]` pixel edges.
"""

import numpy as np

from keras_deconvnet.data.boxes import box_from_mask


def instances_from_object_map(object_map, class_map, ignore_label=255):
    """Instances of a VOC `SegmentationObject` map.

    Instance `k` (values 1, 2, ...) takes the most common class of its
    pixels in `class_map` (background and ignore excluded). Its box covers
    its own pixels only (the 255 boundary band is not part of it).

    Args:
        object_map: int `(H, W)`, 0 background, 1.. instances, `ignore_label`
            boundaries.
        class_map: int `(H, W)` class indices.
        ignore_label: value of boundary/void pixels.

    Returns:
        list of `(class_id, box)` in increasing instance id.
    """
    instances = []
    for instance_id in np.unique(object_map):
        if instance_id == 0 or instance_id == ignore_label:
            continue
        mask = object_map == instance_id
        classes = class_map[mask]
        classes = classes[(classes != 0) & (classes != ignore_label)]
        if classes.size == 0:
            continue
        class_id = int(np.bincount(classes).argmax())
        instances.append((class_id, box_from_mask(mask)))
    return instances


def instances_from_components(
    label, ignore_label=None, background_label=None, min_area=64
):
    """Instances as the connected components of each class of a label map.

    For datasets without instance masks (folder datasets such as CamVid).

    Args:
        label: int `(H, W)` class indices.
        ignore_label: value never treated as a class.
        background_label: a class to skip too (e.g. VOC-style background).
        min_area: components with fewer pixels are dropped.

    Returns:
        list of `(class_id, box)`, by class then by component.
    """
    from scipy import ndimage

    instances = []
    for class_id in np.unique(label):
        if class_id in (ignore_label, background_label):
            continue
        components, count = ndimage.label(label == class_id)
        if count == 0:
            continue
        areas = np.bincount(components.ravel(), minlength=count + 1)
        slices = ndimage.find_objects(components)
        for component, (rows, columns) in enumerate(slices, start=1):
            if areas[component] < min_area:
                continue
            box = np.array(
                [rows.start, columns.start, rows.stop, columns.stop],
                dtype=np.float32,
            )
            instances.append((int(class_id), box))
    return instances
