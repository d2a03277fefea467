"""PASCAL VOC 2012 segmentation from its extracted folder.

Layout (`data_dir` is `VOC2012/` or the `VOCdevkit/` above it)::

    JPEGImages/NAME.jpg
    SegmentationClass/NAME.png     palette PNG: class indices 0..20, 255 ignore
    SegmentationObject/NAME.png    palette PNG: instance ids 1.., 255 ignore
    ImageSets/Segmentation/{train,val,trainval}.txt

Palette PNGs are decoded to their indices (PIL mode "P"), never to colours.
No TensorFlow here.
"""

import os

from keras_deconvnet.data.instances import instances_from_object_map
from keras_deconvnet.data.source import ExampleFiles
from keras_deconvnet.data.source import InvalidExampleError
from keras_deconvnet.data.source import SegmentationSource
from keras_deconvnet.data.source import read_image
from keras_deconvnet.data.source import read_index_png
from keras_deconvnet.data.source import require_directory
from keras_deconvnet.palette import VOC_CLASSES
from keras_deconvnet.palette import VOC_IGNORE_LABEL


def find_voc_root(data_dir):
    """`data_dir` itself, or `data_dir/VOC2012` (a `VOCdevkit/` folder)."""
    for candidate in (data_dir, os.path.join(data_dir, "VOC2012")):
        if os.path.isdir(os.path.join(candidate, "JPEGImages")):
            return candidate
    raise FileNotFoundError(
        f"No PASCAL VOC folder at {data_dir}: expected "
        f"{os.path.join(data_dir, 'JPEGImages')} (or VOC2012/JPEGImages)."
    )


def read_split_file(path):
    """The example names listed one per line in `path`."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Split file not found: {path}")
    with open(path) as file:
        return [line.split()[0] for line in file if line.strip()]


class VOCSegmentation(SegmentationSource):
    """PASCAL VOC 2012 segmentation (21 classes, 255 ignored).

    Instances come from `SegmentationObject/` (when the folder exists).

    Args:
        data_dir: the `VOC2012` folder (or the `VOCdevkit` above it).
        split: a file name under `ImageSets/Segmentation/` without `.txt`.
        **kwargs: passed to `SegmentationSource` (`skip_invalid`, ...).
    """

    def __init__(self, data_dir, split="train", **kwargs):
        root = find_voc_root(data_dir)
        image_dir = require_directory(
            os.path.join(root, "JPEGImages"), "Image"
        )
        class_dir = require_directory(
            os.path.join(root, "SegmentationClass"), "Label"
        )
        object_dir = os.path.join(root, "SegmentationObject")
        has_objects = os.path.isdir(object_dir)
        names = read_split_file(
            os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt")
        )
        files = [
            ExampleFiles(
                name,
                os.path.join(image_dir, f"{name}.jpg"),
                os.path.join(class_dir, f"{name}.png"),
                (
                    os.path.join(object_dir, f"{name}.png")
                    if has_objects
                    else None
                ),
            )
            for name in names
        ]
        kwargs.setdefault("num_classes", len(VOC_CLASSES))
        kwargs.setdefault("ignore_label", VOC_IGNORE_LABEL)
        kwargs.setdefault("class_names", VOC_CLASSES)
        kwargs.setdefault("name", f"voc/{split}")
        super().__init__(files, **kwargs)
        self.root = root
        self.split = split

    def load_files(self, files, with_instances=True):
        image = read_image(files.image_path)
        label = read_index_png(files.label_path)
        instances = None
        if label.shape != image.shape[:2]:
            return image, label, None  # _check reports the size mismatch.
        if with_instances and files.instance_path is not None:
            object_map = read_index_png(files.instance_path)
            if object_map.shape != label.shape:
                raise InvalidExampleError(
                    f"Instance map {files.instance_path} is "
                    f"{object_map.shape} but label {files.label_path} is "
                    f"{label.shape} (height, width)."
                )
            instances = instances_from_object_map(
                object_map, label, self.ignore_label
            )
        return image, label, instances
