"""Folder datasets (CamVid layout): pairing, components, errors."""

import os

import numpy as np
import pytest
from PIL import Image

from keras_deconvnet.data import load_source
from keras_deconvnet.data.folder import FolderSegmentation
from keras_deconvnet.data.source import InvalidExampleError

# SegNet's CamVid split (train/, trainannot/, val/, valannot/), when set.
CAMVID = os.environ.get("KERAS_DECONVNET_CAMVID", "")


def _label():
    label = np.zeros((12, 16), np.uint8)  # class 0 everywhere ...
    label[1:4, 1:5] = 1  # two separate class-1 blocks
    label[8:11, 10:15] = 1
    label[6, 6] = 1  # a single pixel: below min_instance_area
    label[5:9, 2:4] = 2
    label[0, 15] = 11  # void
    return label


@pytest.fixture
def root(tmp_path):
    for split in ("train", "val"):
        os.makedirs(tmp_path / split)
        os.makedirs(tmp_path / f"{split}annot")
        for index in range(2):
            image = np.full((12, 16, 3), 40 * index, np.uint8)
            Image.fromarray(image).save(tmp_path / split / f"f{index}.png")
            Image.fromarray(_label()).save(
                tmp_path / f"{split}annot" / f"f{index}.png"
            )
    return str(tmp_path)


def test_reads_split_folders_and_components(root):
    source = load_source(
        "folder", root, "val", num_classes=11, ignore_label=11
    )
    assert len(source) == 2 and source.ignore_label == 11
    source.min_instance_area = 2
    example = source.read(1)
    np.testing.assert_array_equal(example.label, _label())
    assert example.image[0, 0, 0] == 40
    found = [(c, box.tolist()) for c, box in example.instances]
    # Class 0 is everything else: one component spanning the image.
    assert found == [
        (0, [0, 0, 12, 16]),
        (1, [1, 1, 4, 5]),
        (1, [8, 10, 11, 15]),
        (2, [5, 2, 9, 4]),
    ]
    explicit = FolderSegmentation(
        os.path.join(root, "train"),
        os.path.join(root, "trainannot"),
        num_classes=11,
        ignore_label=11,
        background_label=0,
        min_instance_area=1,
    )
    classes = [c for c, _ in explicit.read(0).instances]
    assert classes == [1, 1, 1, 2]  # the lone pixel counts at min area 1


def test_needs_num_classes_and_folders(root, tmp_path):
    with pytest.raises(ValueError, match="num_classes"):
        load_source("folder", root, "train")
    with pytest.raises(FileNotFoundError, match="testannot"):
        os.makedirs(tmp_path / "test")
        load_source("folder", root, "test", num_classes=11)
    with pytest.raises(ValueError, match="ignore_label"):
        load_source("folder", root, "train", num_classes=11, ignore_label=3)


def test_image_without_label_and_bad_labels_are_named(root):
    Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(
        os.path.join(root, "train", "lonely.png")
    )
    with pytest.raises(FileNotFoundError, match="lonely.png"):
        load_source("folder", root, "train", num_classes=11, ignore_label=11)
    with pytest.warns(UserWarning, match="lonely.png"):
        source = load_source(
            "folder",
            root,
            "train",
            num_classes=11,
            ignore_label=11,
            skip_invalid=True,
        )
    assert len(source) == 2 and source.skipped == 1
    # Label 11 is valid only as the ignore label.
    os.remove(os.path.join(root, "train", "lonely.png"))
    source = load_source(
        "folder", root, "train", num_classes=11, ignore_label=255
    )
    with pytest.raises(InvalidExampleError, match=r"f0\.png.*\[11\]"):
        source.validate(progress=False)


@pytest.mark.skipif(
    not os.path.isdir(CAMVID), reason="set KERAS_DECONVNET_CAMVID to CamVid"
)
def test_camvid_reads_when_present():
    source = load_source(
        "folder", CAMVID, "val", num_classes=11, ignore_label=11
    )
    assert len(source) == 101
    example = source.read(0)
    assert example.image.shape == (360, 480, 3) and example.label.shape == (
        360,
        480,
    )
    assert example.label.max() <= 11 and example.instances
