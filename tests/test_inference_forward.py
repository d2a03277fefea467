"""The compiled forward pass: same outputs as the model, no state moved."""

import numpy as np
import pytest

import keras

from keras_deconvnet.inference.forward import compiled_forward


def _model():
    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(3, 1, name="conv")(inputs)
    return keras.Model(inputs, keras.layers.BatchNormalization(
        momentum=0.5, name="bn")(x))


@pytest.mark.parametrize("training", [False, True])
def test_compiled_forward_matches_the_model_and_moves_no_statistics(
        rng, training):
    model = _model()
    images = (rng.normal(size=(3, 4, 4, 2)) * 4 + 3).astype("float32")
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    forward = compiled_forward(model, training)
    outputs = [keras.ops.convert_to_numpy(forward(images)) for _ in range(2)]
    for value, variable in zip(before, model.non_trainable_variables):
        np.testing.assert_array_equal(variable.numpy(), value)
    # NumPy reference: BN over the conv output with batch statistics
    # (training) or the untouched moving ones (mean 0, variance 1).
    kernel, bias = (keras.ops.convert_to_numpy(w)
                    for w in model.get_layer("conv").weights)
    conv = images @ kernel[0, 0] + bias
    epsilon = model.get_layer("bn").epsilon
    if training:
        mean, variance = conv.mean((0, 1, 2)), conv.var((0, 1, 2))
    else:
        mean, variance = np.zeros(3), np.ones(3)
    expected = (conv - mean) / np.sqrt(variance + epsilon)
    for output in outputs:
        np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)
