"""The synthetic writer produces the real VOC layout the VOC reader reads."""

import os

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from keras_deconvnet.data import synthetic
from keras_deconvnet.data.boxes import box_from_mask
from keras_deconvnet.data.voc import VOCSegmentation
from keras_deconvnet.palette import voc_palette


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    directory = tmp_path_factory.mktemp("synthetic")
    return synthetic.write_synthetic_voc(
        directory, num_train=6, num_val=2, image_size=(96, 128), seed=3
    )


def test_layout_is_voc(root):
    for folder in ("JPEGImages", "SegmentationClass", "SegmentationObject"):
        assert len(os.listdir(os.path.join(root, folder))) == 8
    splits = os.path.join(root, "ImageSets", "Segmentation")
    with open(os.path.join(splits, "train.txt")) as file:
        train = file.read().split()
    with open(os.path.join(splits, "val.txt")) as file:
        val = file.read().split()
    assert len(train) == 6 and len(val) == 2 and not set(train) & set(val)
    with Image.open(
        os.path.join(root, "SegmentationClass", f"{train[0]}.png")
    ) as png:
        assert png.mode == "P"
        palette = np.array(png.getpalette()[: 256 * 3]).reshape(256, 3)
    np.testing.assert_array_equal(palette, voc_palette())


def test_voc_reader_reads_back_exactly(root):
    source = VOCSegmentation(root, "train")
    assert len(source) == 6
    for index in range(len(source)):
        expected = synthetic.synthetic_example(
            index, seed=3, image_size=(96, 128)
        )
        example = source.read(index)
        np.testing.assert_array_equal(example.label, expected["class_map"])
        # JPEG is lossy; the image is close, not equal.
        error = np.abs(example.image.astype(int) - expected["image"]).mean()
        assert error < 10
        assert len(example.instances) == len(expected["instances"]) >= 1
        object_map = expected["object_map"]
        for instance_id, (class_id, box) in enumerate(example.instances, 1):
            expected_class, expected_box = expected["instances"][
                instance_id - 1
            ]
            assert class_id == expected_class
            assert class_id in synthetic.SYNTHETIC_CLASS_STYLES
            np.testing.assert_array_equal(box, expected_box)
            np.testing.assert_array_equal(
                box, box_from_mask(object_map == instance_id)
            )
            # A 255 band surrounds every object, as in VOC.
            mask = object_map == instance_id
            ring = ndimage.binary_dilation(mask) & ~mask
            assert (example.label[ring] == 255).all()
        assert (example.label == 255).any()


def test_deterministic_by_seed_and_varied():
    first = synthetic.synthetic_example(5, seed=1, image_size=(64, 64))
    again = synthetic.synthetic_example(5, seed=1, image_size=(64, 64))
    other = synthetic.synthetic_example(5, seed=2, image_size=(64, 64))
    for key in ("image", "class_map", "object_map"):
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first["image"], other["image"])


def test_large_objects_exist_on_320_images():
    sides = []
    for index in range(12):
        example = synthetic.synthetic_example(index, seed=0)
        for _, box in example["instances"]:
            sides.append(min(box[2] - box[0], box[3] - box[1]))
    assert max(sides) > 112 and min(sides) < 112
    classes = {
        class_id
        for index in range(12)
        for class_id, _ in synthetic.synthetic_example(index)["instances"]
    }
    assert len(classes) >= 4


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="image_size"):
        synthetic.write_synthetic_voc(tmp_path, 1, 1, image_size=(8, 8))
    with pytest.raises(ValueError, match="num_train"):
        synthetic.write_synthetic_voc(tmp_path, -1, 1)
