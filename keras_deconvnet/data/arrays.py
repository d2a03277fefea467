"""A source over in-memory arrays (NumPy only).

For data already in memory, and for tests of the crop geometry.
"""

import numpy as np

from keras_deconvnet.data.source import ExampleFiles
from keras_deconvnet.data.source import SegmentationSource


class ArraySegmentation(SegmentationSource):
    """Images and label maps held in memory.

    Args:
        images: sequence of uint8 `(H, W, 3)` arrays.
        labels: sequence of int `(H, W)` arrays.
        instances: optional sequence (one per example) of lists of
            `(class_id, box)`, boxes `[y1, x1, y2, x2]` in pixel edges.
        **kwargs: `num_classes`, `ignore_label`, ... of `SegmentationSource`.

    Example:
    >>> source = ArraySegmentation([image], [label], num_classes=21,
    ...                            ignore_label=255)
    """

    def __init__(self, images, labels, instances=None, **kwargs):
        if len(images) != len(labels):
            raise ValueError(
                f"Expected as many labels as images. Received: "
                f"{len(images)} images and {len(labels)} labels"
            )
        if instances is not None and len(instances) != len(images):
            raise ValueError(
                f"Expected one instance list per image. Received: "
                f"{len(instances)} lists for {len(images)} images"
            )
        self.images = [np.asarray(image, np.uint8) for image in images]
        self.labels = [np.asarray(label, np.int32) for label in labels]
        self.instance_lists = instances
        files = [
            ExampleFiles(
                f"array_{i}", f"<array {i}>", f"<label array {i}>", None
            )
            for i in range(len(images))
        ]
        kwargs.setdefault("name", "arrays")
        super().__init__(files, **kwargs)
        self._positions = {files.name: i for i, files in enumerate(self.files)}

    def load_files(self, files, with_instances=True):
        position = self._positions[files.name]
        instances = None
        if with_instances and self.instance_lists is not None:
            instances = [
                (int(class_id), np.asarray(box, np.float32))
                for class_id, box in self.instance_lists[position]
            ]
        return self.images[position], self.labels[position], instances
