"""crops="random": rescaled native-resolution crops, padding, determinism."""

import numpy as np
import pytest

from keras_deconvnet.data import training_dataset
from keras_deconvnet.data.arrays import ArraySegmentation
from keras_deconvnet.data.augmentation import DEFAULT_SCALE_RANGE

IGNORE = 255


def position_source(height=40, width=56):
    """One image whose pixels encode their position, labels in 0..99."""
    rows, columns = np.mgrid[0:height, 0:width]
    image = np.stack([rows, columns, np.full_like(rows, 7)], -1)
    label = (rows // 4) * 10 % 100 + columns // 8
    return ArraySegmentation(
        [image.astype(np.uint8)], [label.astype(np.int32)], [[]],
        num_classes=100, ignore_label=IGNORE,
    )


def batches(source, count=1, **options):
    options = dict(dict(crops="random", batch_size=4, seed=0,
                        progress=False), **options)
    iterator = iter(training_dataset(source, **options))
    return [tuple(t.numpy() for t in next(iterator)) for _ in range(count)]


def test_shapes_labels_and_one_crop_per_image():
    source = position_source()
    dataset = training_dataset(source, crops="random", batch_size=4,
                               input_size=32, progress=False)
    assert dataset.crop_count == len(source) == 1
    assert dataset.element_spec[0].shape == (4, 32, 32, 3)
    images, labels = batches(source, input_size=32)[0]
    assert images.dtype == np.float32 and labels.dtype == np.int32
    source_labels = set(np.unique(source.read(0, False).label))
    assert set(np.unique(labels)) <= source_labels | {IGNORE}


def test_scale_one_crop_is_a_window_of_the_source():
    source = position_source()
    image = source.read(0, False).image.astype(np.float32)
    label = source.read(0, False).label
    (images, labels), = batches(source, input_size=32,
                                scale_range=(1.0, 1.0), flip=False)
    offsets = set()
    for crop, crop_label in zip(images, labels):
        # The pixel values are their coordinates in the source.
        top, left = int(crop[0, 0, 0]), int(crop[0, 0, 1])
        offsets.add((top, left))
        assert 0 <= top <= 40 - 32 and 0 <= left <= 56 - 32
        np.testing.assert_array_equal(
            crop, image[top:top + 32, left:left + 32])
        np.testing.assert_array_equal(
            crop_label, label[top:top + 32, left:left + 32])
    assert len(offsets) > 1  # the counter moves the window


def test_smaller_than_the_crop_is_padded_with_zeros_and_ignore():
    source = position_source(40, 56)
    # Scale 0.5: a 20 x 28 image in a 32 x 32 crop, at its top left.
    (images, labels), = batches(source, input_size=32,
                                scale_range=(0.5, 0.5), flip=False)
    for crop, crop_label in zip(images, labels):
        assert (crop_label[20:] == IGNORE).all()
        assert (crop_label[:, 28:] == IGNORE).all()
        assert (crop_label[:20, :28] != IGNORE).all()
        assert (crop[20:] == 0).all() and (crop[:, 28:] == 0).all()
        np.testing.assert_allclose(crop[:20, :28, 2], 7.0)
        # Bilinear halving: row 2k of the result averages rows 2k and 2k+1.
        np.testing.assert_allclose(crop[:20, 0, 0], np.arange(20) * 2 + 0.5)


def test_random_scales_cover_the_range():
    source = position_source(64, 64)
    (images, labels), = batches(source, batch_size=16, input_size=32,
                                scale_range=(0.25, 1.0), flip=False)
    # The image's row coordinate grows by 1 / scale per output row.
    steps = images[:, 1, 0, 0] - images[:, 0, 0, 0]
    padded = (labels == IGNORE).any(axis=(1, 2))
    assert padded.any() and not padded.all()  # scales below and above 0.5
    assert steps.max() - steps.min() > 1.0


def test_seed_fixes_everything_and_counters_differ():
    source = position_source()
    first = batches(source, count=2, input_size=32, seed=3)
    again = batches(source, count=2, input_size=32, seed=3)
    other = batches(source, count=2, input_size=32, seed=4)
    for (a, b), (c, d) in zip(first, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert not np.array_equal(first[0][0], other[0][0])
    # Each element counter draws its own crop.
    crops = [crop.tobytes() for batch, _ in first for crop in batch]
    assert len(set(crops)) == len(crops)


def test_flips_keep_image_and_label_aligned():
    source = position_source()
    (images, labels), = batches(source, batch_size=16, input_size=32,
                                scale_range=(1.0, 1.0))
    columns = images[..., 1].astype(int)
    flipped = (np.diff(columns, axis=2) == -1).all(axis=(1, 2))
    assert 0 < flipped.sum() < 16
    rows = images[..., 0].astype(int)
    np.testing.assert_array_equal(
        labels, (rows // 4) * 10 % 100 + columns // 8)


def test_default_and_bad_scale_range():
    assert DEFAULT_SCALE_RANGE == (0.5, 1.0)
    source = position_source()
    for bad in ((1.0, 0.5), (0.0, 1.0), (0.5,), "big"):
        with pytest.raises(ValueError, match="scale_range"):
            training_dataset(source, crops="random", batch_size=2,
                             scale_range=bad, progress=False)
