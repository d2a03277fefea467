"""SBD, the Semantic Boundaries Dataset (Hariharan et al., 2011).

The VOC 2011 images with class and instance masks for 11,355 images, on
which the paper trained. Layout (`data_dir` is `dataset/` or the
`benchmark_RELEASE/` above it)::

    img/NAME.jpg
    cls/NAME.mat     GTcls.Segmentation: class indices 0..20
    inst/NAME.mat    GTinst.Segmentation: instance ids 1..; GTinst.Categories
    train.txt, val.txt

Read with `scipy.io.loadmat`. No TensorFlow here.
"""

import os

import numpy as np

from keras_deconvnet.data.boxes import box_from_mask
from keras_deconvnet.data.source import InvalidExampleError
from keras_deconvnet.data.source import SegmentationSource
from keras_deconvnet.data.source import read_image
from keras_deconvnet.data.source import require_directory
from keras_deconvnet.data.voc import read_split_file
from keras_deconvnet.data.voc import voc_style_files
from keras_deconvnet.data.voc import with_voc_classes


def find_sbd_root(data_dir):
    """`data_dir` itself or `data_dir/dataset` (a `benchmark_RELEASE/`)."""
    for candidate in (data_dir, os.path.join(data_dir, "dataset")):
        if os.path.isdir(os.path.join(candidate, "img")):
            return candidate
    raise FileNotFoundError(
        f"No SBD folder at {data_dir}: expected "
        f"{os.path.join(data_dir, 'img')}"
        " (or dataset/img)."
    )


def load_mat_struct(path, key):
    """Field `key` (e.g. `GTcls`) of a MATLAB file, as an attribute object."""
    from scipy import io

    try:
        contents = io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except FileNotFoundError:
        raise InvalidExampleError(f"Label file not found: {path}") from None
    except Exception as error:  # scipy raises several types on bad files.
        raise InvalidExampleError(
            f"Cannot read MATLAB file {path}: {error}"
        ) from None
    if key not in contents:
        raise InvalidExampleError(f"MATLAB file {path} has no {key!r} field.")
    return contents[key]


class SBDSegmentation(SegmentationSource):
    """SBD with class masks (`cls/`) and instance masks (`inst/`).

    Args:
        data_dir: the `dataset` folder (or `benchmark_RELEASE` above it).
        split: `train` or `val` (any `SPLIT.txt` in the folder).
        **kwargs: passed to `SegmentationSource` (`skip_invalid`, ...).
    """

    def __init__(self, data_dir, split="train", **kwargs):
        root = find_sbd_root(data_dir)
        image_dir = require_directory(os.path.join(root, "img"), "Image")
        class_dir = require_directory(os.path.join(root, "cls"), "Label")
        names = read_split_file(os.path.join(root, f"{split}.txt"))
        files = voc_style_files(
            names, image_dir, class_dir, os.path.join(root, "inst"), ".mat"
        )
        with_voc_classes(kwargs, f"sbd/{split}")
        super().__init__(files, **kwargs)
        self.root = root
        self.split = split

    def load_files(self, files, with_instances=True):
        image = read_image(files.image_path)
        classes = load_mat_struct(files.label_path, "GTcls")
        label = np.asarray(classes.Segmentation).astype(np.int32)
        instances = None
        if label.shape != image.shape[:2]:
            return image, label, None  # _check reports the size mismatch.
        if with_instances and files.instance_path is not None:
            objects = load_mat_struct(files.instance_path, "GTinst")
            object_map = np.asarray(objects.Segmentation).astype(np.int32)
            categories = np.atleast_1d(objects.Categories).astype(int)
            if object_map.shape != label.shape:
                raise InvalidExampleError(
                    f"Instance map {files.instance_path} is "
                    f"{object_map.shape} but {files.label_path} is "
                    f"{label.shape} (height, width)."
                )
            instances = []
            for instance_id, class_id in enumerate(categories, start=1):
                box = box_from_mask(object_map == instance_id)
                if box is not None:
                    instances.append((int(class_id), box))
        return image, label, instances
