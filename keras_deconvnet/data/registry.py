"""`load_source(name, data_dir, split)`: one entry point for every dataset.

No TensorFlow here.
"""

import os

from keras_deconvnet.data.class_names import dataset_class_names

SOURCE_NAMES = ("voc", "sbd", "folder", "synthetic")


def load_source(
    name,
    data_dir,
    split="train",
    *,
    num_classes=None,
    ignore_label=None,
    image_dir=None,
    label_dir=None,
    skip_invalid=False,
    class_names=None,
    background_label=None,
):
    """Opens a segmentation dataset and checks its folder structure.

    Args:
        name: `"voc"` (PASCAL VOC 2012 folder), `"sbd"` (SBD `dataset/`
            folder), `"folder"` (`data_dir/<split>/` images and
            `data_dir/<split>annot/` label PNGs, or `image_dir`/`label_dir`),
            or `"synthetic"` (a VOC-layout folder from
            `write_synthetic_voc`, generated in `data_dir` when missing or
            empty).
        data_dir: the dataset folder.
        split: `"train"`, `"val"`, ... (a split file or folder name).
        num_classes: number of classes (required for `"folder"`; VOC, SBD
            and synthetic have 21).
        ignore_label: label to ignore; `None` means the default of every
            dataset, 255 (`keras_deconvnet.palette.VOC_IGNORE_LABEL`).
            CamVid folders need 11.
        image_dir: folder datasets: explicit image folder.
        label_dir: folder datasets: explicit label folder.
        skip_invalid: skip (with a warning, counted in `source.skipped`)
            rather than raise on invalid examples.
        class_names: names of the classes (a sequence, `a,b,c` or a file
            of names). Folder datasets default to a `classes.txt` beside
            the data, then CamVid's 11 names for 11 classes in a "camvid"
            folder or with ignore label 11, then `class_0`, ... (see
            `keras_deconvnet.data.class_names`).
        background_label: folder datasets: a class never used for
            instance crops.

    Returns:
        A `SegmentationSource`. Every example is checked by its
        `validate()`, which the training and evaluation pipelines call.

    Raises:
        ValueError: an unknown name or missing arguments.
        FileNotFoundError: a missing folder or split file, named.

    Example:
    >>> source = load_source("folder", "/data/camvid", "train",
    ...                      num_classes=11, ignore_label=11)
    >>> example = source.read(0)   # .image, .label, .instances
    """
    if name not in SOURCE_NAMES:
        raise ValueError(
            f"Unknown dataset {name!r}; expected one of {SOURCE_NAMES}. "
            f"Received: name={name!r}"
        )
    if name != "folder" and (image_dir or label_dir or background_label):
        raise ValueError(
            f"`image_dir`, `label_dir` and `background_label` are for folder "
            f"datasets, not {name!r}. Received: image_dir={image_dir}, "
            f"label_dir={label_dir}, background_label={background_label}"
        )
    options = {"skip_invalid": skip_invalid}
    if class_names is not None:
        options["class_names"] = class_names
    if num_classes is not None:
        options["num_classes"] = num_classes
    if ignore_label is not None:
        options["ignore_label"] = ignore_label
    if name in ("voc", "synthetic"):
        from keras_deconvnet.data.voc import VOCSegmentation

        if name == "synthetic":
            _ensure_synthetic(data_dir)
            options.setdefault("name", f"synthetic/{split}")
        return VOCSegmentation(data_dir, split, **options)
    if name == "sbd":
        from keras_deconvnet.data.sbd import SBDSegmentation

        return SBDSegmentation(data_dir, split, **options)
    from keras_deconvnet.data.folder import FolderSegmentation

    if num_classes is None:
        raise ValueError(
            "Folder datasets need `num_classes` (and usually "
            "`ignore_label`). Received: num_classes=None"
        )
    if (image_dir is None) != (label_dir is None):
        raise ValueError(
            "Pass both `image_dir` and `label_dir`, or neither. Received: "
            f"image_dir={image_dir}, label_dir={label_dir}"
        )
    if image_dir is None:
        if data_dir is None:
            raise ValueError("Pass `data_dir` or `image_dir` and `label_dir`.")
        image_dir = os.path.join(data_dir, split)
        label_dir = os.path.join(data_dir, f"{split}annot")
    options["class_names"] = dataset_class_names(
        name, num_classes, class_names=class_names, data_dir=data_dir,
        image_dir=image_dir, label_dir=label_dir, ignore_label=ignore_label,
    )
    return FolderSegmentation(
        image_dir, label_dir, background_label=background_label, **options
    )


def _ensure_synthetic(data_dir):
    if data_dir is None:
        raise ValueError("`synthetic` needs a `data_dir` to write or read.")
    if os.path.isdir(data_dir) and os.listdir(data_dir):
        return
    from keras_deconvnet.data.synthetic import write_synthetic_voc

    write_synthetic_voc(data_dir)
