"""The BN check at the end of training: accuracies in both BN modes."""

import numpy as np
import pytest

import keras

from keras_deconvnet.inference.forward import compiled_forward
from keras_deconvnet.metrics import ConfusionMatrix
from keras_deconvnet.training.batch_norm_check import _accuracies
from keras_deconvnet.training.batch_norm_check import default_bn_examples


def test_accuracies_read_unmoved_statistics_in_inference_mode(rng):
    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(3, 1, name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.BatchNormalization(
        momentum=0.5, name="bn")(x))
    images = (rng.normal(size=(9, 4, 4, 2)) * 4 + 3).astype("float32")
    labels = rng.integers(0, 3, size=(9, 4, 4)).astype("int32")
    batches = [(images[i:i + 3], labels[i:i + 3]) for i in (0, 3, 6)]
    expected = {key: ConfusionMatrix(3, 255)
                for key in ("batch_statistics", "moving_statistics")}
    for batch_images, batch_labels in batches:
        for key, training in (("moving_statistics", False),
                              ("batch_statistics", True)):
            scores = keras.ops.convert_to_numpy(
                model(batch_images, training=training))
            expected[key].update(batch_labels, scores.argmax(-1))
        # The reference keeps the statistics fixed, as the check must.
        model.get_layer("bn").moving_mean.assign(np.zeros(3, "float32"))
        model.get_layer("bn").moving_variance.assign(np.ones(3, "float32"))
    before = [v.numpy().copy() for v in model.non_trainable_variables]

    forwards = {training: compiled_forward(model, training)
                for training in (True, False)}
    result = _accuracies(forwards, batches, 3, 255)
    for key, matrix in expected.items():
        assert result[key] == pytest.approx(
            (matrix.mean_iou(), matrix.pixel_accuracy())), key
    for value, variable in zip(before, model.non_trainable_variables):
        np.testing.assert_array_equal(variable.numpy(), value)


def test_default_bn_examples_between_floor_and_paper():
    assert default_bn_examples(10) == 512
    assert default_bn_examples(3000) == 3000
    assert default_bn_examples(10**6) == 14000
