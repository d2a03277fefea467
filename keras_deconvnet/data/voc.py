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


def voc_style_files(names, image_dir, label_dir, instance_dir, suffix):
    """`ExampleFiles` for `<name>.jpg` images and `<name><suffix>` labels.

    Instance files come from `instance_dir` when that folder exists (VOC's
    SegmentationObject, SBD's inst), else they are `None`.
    """
    has_instances = os.path.isdir(instance_dir)
    return [
        ExampleFiles(
            name,
            os.path.join(image_dir, f"{name}.jpg"),
            os.path.join(label_dir, f"{name}{suffix}"),
            (
                os.path.join(instance_dir, f"{name}{suffix}")
                if has_instances
                else None
            ),
        )
        for name in names
    ]


def with_voc_classes(kwargs, name):
    """`kwargs` defaulted to VOC's 21 classes and 255 ignore label."""
    kwargs.setdefault("num_classes", len(VOC_CLASSES))
    kwargs.setdefault("ignore_label", VOC_IGNORE_LABEL)
    kwargs.setdefault("class_names", VOC_CLASSES)
    kwargs.setdefault("name", name)
    return kwargs


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
        names = read_split_file(
            os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt")
        )
        files = voc_style_files(
            names,
            image_dir,
            class_dir,
            os.path.join(root, "SegmentationObject"),
            ".png",
        )
        with_voc_classes(kwargs, f"voc/{split}")
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
