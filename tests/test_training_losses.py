"""SegmentationCrossEntropy and median frequency weights against NumPy."""

import numpy as np
import pytest

import keras

from keras_deconvnet.training.losses import SegmentationCrossEntropy
from keras_deconvnet.training.losses import class_pixel_counts
from keras_deconvnet.training.losses import median_frequency_weights


def numpy_cross_entropy(labels, scores, ignore_label, class_weights=None):
    scores = scores.astype(np.float64)
    log_softmax = scores - scores.max(-1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(-1, keepdims=True))
    valid = labels != ignore_label
    picked = np.take_along_axis(
        log_softmax, np.where(valid, labels, 0)[..., None], -1
    )[..., 0]
    weights = valid.astype(np.float64)
    if class_weights is not None:
        weights *= np.asarray(class_weights)[np.where(valid, labels, 0)]
    return -(picked * weights).sum() / valid.sum()


def test_matches_numpy_and_ignores_label(rng):
    scores = rng.normal(size=(2, 4, 4, 5)).astype("float32") * 3
    labels = rng.integers(0, 5, size=(2, 4, 4)).astype("int32")
    labels[0, :2] = 255
    loss = SegmentationCrossEntropy(ignore_label=255)
    value = float(loss(labels, scores))
    assert value == pytest.approx(numpy_cross_entropy(labels, scores, 255),
                                  rel=1e-5)
    # The ignored pixels' scores have no influence.
    changed = scores.copy()
    changed[0, :2] = 100.0
    assert float(loss(labels, changed)) == pytest.approx(value, rel=1e-6)


def test_class_weights_match_numpy(rng):
    scores = rng.normal(size=(3, 5, 5, 4)).astype("float32")
    labels = rng.integers(0, 4, size=(3, 5, 5)).astype("int32")
    labels[1, 0] = 255
    weights = [0.5, 2.0, 1.0, 3.0]
    loss = SegmentationCrossEntropy(255, class_weights=weights)
    assert float(loss(labels, scores)) == pytest.approx(
        numpy_cross_entropy(labels, scores, 255, weights), rel=1e-5
    )


def test_all_ignored_gives_zero_not_nan():
    scores = np.ones((1, 2, 2, 3), "float32")
    labels = np.full((1, 2, 2), 255, "int32")
    assert float(SegmentationCrossEntropy(255)(labels, scores)) == 0.0


def test_float16_scores_give_float32_loss(rng):
    scores = rng.normal(size=(1, 3, 3, 4)).astype("float16")
    labels = rng.integers(0, 4, size=(1, 3, 3)).astype("int32")
    loss = SegmentationCrossEntropy(255)(labels, scores)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"


def test_config_round_trip():
    loss = SegmentationCrossEntropy(11, class_weights=[1.0, 2.0])
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, SegmentationCrossEntropy)
    assert restored.ignore_label == 11
    assert restored.class_weights == [1.0, 2.0]


def test_invalid_arguments():
    with pytest.raises(ValueError, match="ignore_label"):
        SegmentationCrossEntropy(ignore_label="void")
    with pytest.raises(ValueError, match="class_weights"):
        SegmentationCrossEntropy(class_weights=[1.0, -1.0])


def test_median_frequency_weights_hand_computed():
    # Image A: 6 px of class 0, 2 px of class 1 (8 px). Image B: 3 px of
    # class 0, 1 px of class 2, 1 px ignored (4 labelled px).
    image_a = np.array([[0, 0, 0, 0], [0, 0, 1, 1]])
    image_b = np.array([[0, 0, 0, 2, 9]])
    pixels, image_pixels = class_pixel_counts([image_a, image_b], 4, 9)
    np.testing.assert_array_equal(pixels, [9, 2, 1, 0])
    np.testing.assert_array_equal(image_pixels, [12, 8, 4, 0])
    # freq = [9/12, 2/8, 1/4]; median 0.25; class 3 absent -> 0.
    weights = median_frequency_weights([image_a, image_b], 4, 9)
    np.testing.assert_allclose(weights, [0.25 / 0.75, 1.0, 1.0, 0.0])
    # The softer square root: the spread of 3x becomes sqrt(3)x.
    weights = median_frequency_weights([image_a, image_b], 4, 9, power=0.5)
    np.testing.assert_allclose(weights, [(1 / 3) ** 0.5, 1.0, 1.0, 0.0])
    for power in (0, -1, "0.5", 5):
        with pytest.raises(ValueError, match="power"):
            median_frequency_weights([image_a], 4, 9, power=power)


def test_median_frequency_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match="outside"):
        median_frequency_weights([np.array([[0, 5]])], 3, ignore_label=255)


def test_out_of_range_labels_raise_naming_the_values(rng):
    scores = rng.normal(size=(1, 3, 3, 3)).astype("float32")
    labels = np.zeros((1, 3, 3), "int32")
    labels[0, 1, 1] = 255  # ignored: fine
    loss = SegmentationCrossEntropy(ignore_label=255)
    assert np.isfinite(float(loss(labels, scores)))
    labels[0, 0, 0], labels[0, 2, 2] = 5, -1
    errors = (ValueError,)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        errors = (tf.errors.InvalidArgumentError,)
    # Never clipped into class 2 (VOC's 255 used to become class C-1).
    with pytest.raises(errors, match=r"\[0, 3\)[\s\S]*-1[\s\S]*5"):
        loss(labels, scores)
    with pytest.raises(errors, match=r"\[0, 3\)"):
        SegmentationCrossEntropy(ignore_label=None)(
            np.full((1, 3, 3), 255, "int32"), scores)


def test_out_of_range_labels_give_nan_where_assertions_are_dropped(rng):
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("XLA via tf.function")
    scores = rng.normal(size=(1, 3, 3, 3)).astype("float32")
    labels = np.zeros((1, 3, 3), "int32")
    labels[0, 0, 0] = 7
    loss = SegmentationCrossEntropy(ignore_label=255)
    # XLA drops tf.debugging.Assert (as on a GPU training step): the loss
    # is NaN, which stops training (StopOnNaN), never a silent class.
    value = tf.function(loss, jit_compile=True)(labels, scores)
    assert np.isnan(float(value))
