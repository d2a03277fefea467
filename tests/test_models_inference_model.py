import numpy as np
import pytest

import keras

from keras_deconvnet.models import DeconvNet
from keras_deconvnet.models import optimize_for_inference
from keras_deconvnet.models.inference_model import convolution_kernel
from keras_deconvnet.models.inference_model import (
    deconvolutions_as_convolutions)
from keras_deconvnet.models.inference_model import is_convolution_in_disguise
from tests.conftest import SMALL_WIDTH
from tests.layer_testing import make_informative


def numpy_conv_transpose_same(x, kernel):
    """Stride-1 "same" transposed convolution, scatter form: input (i, j)
    adds x[i, j] @ kernel[a, b].T at output (i + a - p, j + b - p)."""
    batch, height, width, _ = x.shape
    size = kernel.shape[0]
    pad = size // 2
    out = np.zeros((batch, height + 2 * pad, width + 2 * pad,
                    kernel.shape[2]))
    for a in range(size):
        for b in range(size):
            out[:, a:a + height, b:b + width] += np.einsum(
                "nhwc,oc->nhwo", x, kernel[a, b])
    return out[:, pad:pad + height, pad:pad + width]


@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_converted_kernel_computes_the_transposed_convolution(
        rng, kernel_size):
    x = rng.normal(size=(2, 6, 7, 4)).astype("float32")
    layer = keras.layers.Conv2DTranspose(3, kernel_size, padding="same",
                                         use_bias=False)
    layer.build(x.shape)
    kernel = rng.normal(size=layer.kernel.shape).astype("float32")
    layer.set_weights([kernel])
    expected = numpy_conv_transpose_same(x, kernel)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)),
                               expected, rtol=1e-4, atol=1e-4)
    convolution = keras.layers.Conv2D(3, kernel_size, padding="same",
                                      use_bias=False)
    convolution.build(x.shape)
    convolution.set_weights([convolution_kernel(kernel)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(convolution(x)),
                               expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arguments, expected", [
    ({"kernel_size": 3, "padding": "same"}, True),
    ({"kernel_size": 3, "padding": "same", "strides": 2}, False),
    ({"kernel_size": 2, "padding": "same"}, False),  # asymmetric padding
    ({"kernel_size": 3, "padding": "valid"}, False),
    ({"kernel_size": 3, "padding": "same", "dilation_rate": 2}, False),
])
def test_which_transposed_convolutions_are_convolutions(arguments, expected):
    layer = keras.layers.Conv2DTranspose(4, **arguments)
    assert is_convolution_in_disguise(layer) is expected
    assert not is_convolution_in_disguise(keras.layers.Conv2D(4, 3))


def test_deconvnet_decoder_becomes_convolutions_with_the_same_scores(rng):
    model = DeconvNet(num_classes=3, width=SMALL_WIDTH)
    images = rng.uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    make_informative(model, images)
    fast = optimize_for_inference(model)
    kinds = {layer.name: type(layer).__name__ for layer in fast.layers}
    # 13 decoder deconvolutions are convolutions now; fc6-deconv (7x7
    # valid, from 1x1) stays the matrix product it already is.
    assert kinds["deconv1_1"] == kinds["deconv5_3"] == "Conv2D"
    assert kinds["fc6_deconv"] == "FullWindowConv2DTranspose"
    assert sum(is_convolution_in_disguise(layer)
               for layer in model.layers) == 13
    assert not any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in fast.layers)
    assert fast.stored_metadata == model.stored_metadata
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    got = keras.ops.convert_to_numpy(fast.predict_on_batch(images))
    scale = np.abs(expected).max()
    assert scale > 0.1
    np.testing.assert_allclose(got, expected, atol=1e-2 * scale)
    # The original model is untouched.
    assert type(model.get_layer("deconv1_1")) is keras.layers.Conv2DTranspose


def test_models_without_candidates_come_back_unchanged():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
    assert deconvolutions_as_convolutions(model) is model
    assert optimize_for_inference(model) is model
