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


def small_relu_network(channels=16, size=12):
    """conv-relu-conv-relu-conv(output), plus a branch that reuses one
    convolution's output, to check which ReLUs move into the Winograd
    layers."""
    inputs = keras.Input((size, size, channels))
    x = keras.layers.Conv2D(channels, 3, padding="same", name="a")(inputs)
    x = keras.layers.ReLU(name="a_relu")(x)
    b = keras.layers.Conv2D(channels, 3, padding="same", name="b")(x)
    shared = keras.layers.ReLU(name="b_relu")(b)
    skip = keras.layers.Add(name="skip")([shared, b])  # b feeds two layers
    leaky = keras.layers.ReLU(negative_slope=0.1, name="c_relu")(
        keras.layers.Conv2D(channels, 3, padding="same", name="c")(skip))
    outputs = keras.layers.Conv2D(3, 3, padding="same", name="scores")(leaky)
    return keras.Model(inputs, outputs)


def test_winograd_convolutions_convert_and_fuse_only_plain_relus(rng):
    from keras_deconvnet.models.inference_model import winograd_convolutions

    model = small_relu_network()
    for layer in model.layers[1:]:
        layer.set_weights([rng.normal(size=w.shape).astype("float32") / 6
                           for w in layer.get_weights()])
    fast = winograd_convolutions(model, min_size=8, max_size=16,
                                 min_channels=16)
    kinds = {layer.name: type(layer).__name__ for layer in fast.layers}
    assert [name for name, kind in kinds.items()
            if kind == "WinogradConv2D"] == ["a", "b", "c", "scores"]
    # Only a's ReLU is plain and its convolution's sole consumer: b feeds
    # the Add too, c's ReLU is leaky, and "scores" is the model's output.
    assert "a_relu" not in kinds and "b_relu" in kinds and "c_relu" in kinds
    assert fast.get_layer("a").activation is keras.activations.relu
    assert fast.get_layer("b").activation is keras.activations.linear
    x = rng.normal(size=(2, 12, 12, 16)).astype("float32")
    expected = model.predict_on_batch(x)
    np.testing.assert_allclose(fast.predict_on_batch(x), expected,
                               atol=1e-4 * np.abs(expected).max())
    assert fast.get_layer("scores").activation is keras.activations.linear
    # Thresholds: too few channels, or sizes outside the range, convert
    # nothing and return the model itself.
    assert winograd_convolutions(model, min_channels=32) is model
    assert winograd_convolutions(model, min_size=13, max_size=56,
                                 min_channels=1) is model
    assert winograd_convolutions(model, min_size=1, max_size=11,
                                 min_channels=1) is model
    # Layers computing in bfloat16 stay direct.
    config = model.get_config()
    for layer in config["layers"][1:]:
        layer["config"]["dtype"] = "mixed_bfloat16"
    bf16_model = keras.Model.from_config(config)
    assert winograd_convolutions(bf16_model, min_size=8, max_size=16,
                                 min_channels=16) is bf16_model


def test_optimize_for_inference_winograd_on_deconvnet(rng):
    from keras_deconvnet.layers import WinogradConv2D

    # Width 1/4: the 28x28 layers have 128 or more input channels except
    # conv4_1 (64); the 56x56 ones have fewer.
    model = DeconvNet(num_classes=3, width=0.25)
    images = rng.uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    make_informative(model, images)
    fast = optimize_for_inference(model, winograd=True)
    converted = sorted(layer.name for layer in fast.layers
                       if isinstance(layer, WinogradConv2D))
    assert converted == ["conv4_2", "conv4_3", "deconv4_1", "deconv4_2",
                         "deconv4_3"]
    plain = optimize_for_inference(model, winograd=False)
    assert not any(isinstance(layer, WinogradConv2D)
                   for layer in plain.layers)
    expected = plain.predict_on_batch(images)
    got = fast.predict_on_batch(images)
    assert np.mean(got.argmax(-1) == expected.argmax(-1)) > 0.999
    np.testing.assert_allclose(got, expected,
                               atol=1e-3 * np.abs(expected).max())


def test_winograd_auto_follows_the_backend_and_setting_is_checked():
    from keras_deconvnet.models.inference_model import _winograd_pays

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        assert _winograd_pays("auto") is (
            not tf.config.list_physical_devices("GPU"))
    else:
        assert _winograd_pays("auto") is False
    with pytest.raises(ValueError, match="winograd"):
        optimize_for_inference(DeconvNet(num_classes=3, width=SMALL_WIDTH),
                               winograd="yes")


def test_models_saved_with_plain_fc_layers_get_the_matrix_products(rng):
    from keras_deconvnet.layers import FullWindowConv2D
    from keras_deconvnet.layers import FullWindowConv2DTranspose
    from keras_deconvnet.models.inference_model import (
        full_window_convolutions)

    model = DeconvNet(num_classes=3, width=SMALL_WIDTH)
    images = rng.uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    make_informative(model, images)
    # A model as saved before DeconvNet built FullWindow layers.
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"].startswith("FullWindow"):
            layer["class_name"] = layer["class_name"].replace(
                "FullWindow", "")
            layer["module"] = "keras.layers"
            layer.pop("registered_name", None)
    legacy = keras.Model.from_config(config)
    legacy.set_weights(model.get_weights())
    assert type(legacy.get_layer("fc6")) is keras.layers.Conv2D
    upgraded = full_window_convolutions(legacy)
    assert type(upgraded.get_layer("fc6")) is FullWindowConv2D
    assert type(upgraded.get_layer("fc7")) is FullWindowConv2D
    assert type(upgraded.get_layer("fc6_deconv")) is \
        FullWindowConv2DTranspose
    assert type(upgraded.get_layer("conv1_1")) is keras.layers.Conv2D
    expected = legacy.predict_on_batch(images)
    np.testing.assert_allclose(upgraded.predict_on_batch(images), expected,
                               atol=1e-5 * np.abs(expected).max())
    fast = optimize_for_inference(legacy, winograd=False)
    assert type(fast.get_layer("fc6")) is FullWindowConv2D
    # Nothing to upgrade: the model itself.
    assert full_window_convolutions(model) is model
