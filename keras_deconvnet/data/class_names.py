"""Class names of a dataset: given, from `classes.txt`, or known defaults.

Resolution order for folder datasets (`dataset_class_names`):

1. names passed explicitly (`--class-names a,b,c` or a file path);
2. a `classes.txt` beside the data: in `data_dir`, else in the parent
   folder of `label_dir` (one name per line, `#` comments and blank lines
   skipped);
3. CamVid's 11 names (SegNet's layout: sky ... bicyclist, 11 = void) when
   the dataset has 11 classes and either its folder name contains
   "camvid" or its ignore label is 11, the CamVid recipe of this package;
4. `class_0`, `class_1`, ...

VOC, SBD and the synthetic dataset always use the 21 VOC names. No
TensorFlow here.
"""

import os

from keras_deconvnet import palette

CLASSES_FILE = "classes.txt"
VOC_LIKE_DATASETS = ("voc", "sbd", "synthetic")


def read_classes_file(path):
    """The class names in a text file, one per line."""
    with open(path, encoding="utf-8") as file:
        names = [line.split("#", 1)[0].strip() for line in file]
    names = tuple(name for name in names if name)
    if not names:
        raise ValueError(f"The class names file '{path}' holds no names.")
    return names


def parse_class_names(value):
    """Names from a `--class-names` value: a file path or `a,b,c`.

    Returns:
        A tuple of names, or `None` for `None`.
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        names = tuple(str(name).strip() for name in value)
    elif os.path.isfile(value):
        return read_classes_file(value)
    else:
        names = tuple(name.strip() for name in str(value).split(","))
    if not names or not all(names):
        raise ValueError(
            "`class_names` must be a file of names or comma-separated "
            f"non-empty names. Received: class_names={value!r}"
        )
    return names


def _classes_file(data_dir, label_dir):
    folders = [data_dir]
    if label_dir is not None:
        folders.append(os.path.dirname(os.path.abspath(label_dir)))
    for folder in folders:
        if folder is not None:
            path = os.path.join(folder, CLASSES_FILE)
            if os.path.isfile(path):
                return path
    return None


def _looks_like_camvid(num_classes, ignore_label, folders):
    if num_classes != len(palette.CAMVID_CLASSES):
        return False
    named = any(
        folder is not None and "camvid" in os.path.abspath(folder).lower()
        for folder in folders
    )
    return named or ignore_label == palette.CAMVID_VOID_LABEL


def dataset_class_names(
    dataset,
    num_classes,
    *,
    class_names=None,
    data_dir=None,
    image_dir=None,
    label_dir=None,
    ignore_label=None,
):
    """The class names of a dataset, resolved as the module docstring says.

    Args:
        dataset: `"voc"`, `"sbd"`, `"synthetic"`, `"folder"` or None.
        num_classes: number of classes.
        class_names: explicit names (a sequence, a file path or `a,b,c`).
        data_dir, image_dir, label_dir: the dataset's folders.
        ignore_label: the dataset's ignore label.

    Returns:
        A tuple of `num_classes` names.

    Raises:
        ValueError: explicit or file names whose count is not `num_classes`.
    """
    names = parse_class_names(class_names)
    origin = "class_names"
    if (names is None and dataset in VOC_LIKE_DATASETS
            and num_classes == len(palette.VOC_CLASSES)):
        names = palette.VOC_CLASSES
    if names is None:
        origin = _classes_file(data_dir, label_dir)
        if origin is not None:
            names = read_classes_file(origin)
    if names is None and _looks_like_camvid(
        num_classes, ignore_label, (data_dir, image_dir, label_dir)
    ):
        names = palette.CAMVID_CLASSES
    if names is None:
        return palette.generic_class_names(num_classes)
    if len(names) != num_classes:
        raise ValueError(
            f"{origin} gives {len(names)} class names but the dataset has "
            f"{num_classes} classes. Received: class_names={names}"
        )
    return tuple(names)
