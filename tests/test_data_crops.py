"""Zero-padded crops against hand-computed cases."""

import numpy as np
import pytest

from keras_deconvnet.data.crops import crop_with_padding


def _image_and_label():
    rows, columns = np.mgrid[0:6, 0:8]
    image = np.stack([rows, columns, rows * 8 + columns], -1).astype(np.uint8)
    return image, (rows * 8 + columns).astype(np.int32)


def test_inside_window_is_plain_slice():
    image, label = _image_and_label()
    crop, crop_label = crop_with_padding(image, label, [1, 2, 4, 7], 255)
    np.testing.assert_array_equal(crop, image[1:4, 2:7])
    np.testing.assert_array_equal(crop_label, label[1:4, 2:7])


def test_window_leaving_every_side_is_padded():
    image, label = _image_and_label()
    crop, crop_label = crop_with_padding(image, label, [-2, -3, 8, 10], 255)
    assert crop.shape == (10, 13, 3) and crop_label.shape == (10, 13)
    # The image sits at rows 2..7, columns 3..10 of the crop.
    np.testing.assert_array_equal(crop[2:8, 3:11], image)
    np.testing.assert_array_equal(crop_label[2:8, 3:11], label)
    outside = np.ones((10, 13), bool)
    outside[2:8, 3:11] = False
    assert (crop[outside] == 0).all()
    assert (crop_label[outside] == 255).all()


def test_window_fully_outside_is_all_padding():
    image, label = _image_and_label()
    crop, crop_label = crop_with_padding(image, label, [10, 10, 12, 13], 7)
    assert crop.shape == (2, 3, 3) and not crop.any()
    assert (crop_label == 7).all()


def test_empty_window_is_rejected():
    image, label = _image_and_label()
    with pytest.raises(ValueError, match="window"):
        crop_with_padding(image, label, [3, 3, 3, 5], 255)
