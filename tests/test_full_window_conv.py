import numpy as np
import pytest

import keras

from keras_deconvnet.layers import FullWindowConv2D
from keras_deconvnet.layers import FullWindowConv2DTranspose
from tests.layer_testing import gradient


def numpy_full_window_conv(x, kernel, bias):
    """One output position: sum over the window, the input channels."""
    return np.einsum("bhwc,hwco->bo", x, kernel)[:, None, None] + bias


def numpy_single_position_conv_transpose(x, kernel, bias):
    """Output (i, j, o) = sum_c x_c kernel[i, j, o, c], plus the bias."""
    return np.einsum("bc,hwoc->bhwo", x[:, 0, 0], kernel) + bias


def twin_pair(full_window_class, plain_class, input_shape, **arguments):
    """A FullWindow layer and a plain Keras one with the same weights."""
    full_window = full_window_class(**arguments)
    plain = plain_class(**arguments)
    full_window.build(input_shape)
    plain.build(input_shape)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=w.shape).astype("float32")
               for w in full_window.get_weights()]
    full_window.set_weights(weights)
    plain.set_weights(weights)
    return full_window, plain


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_config_round_trip_and_registered_names():
    for layer in (FullWindowConv2D(8, 7, padding="valid", name="fc6"),
                  FullWindowConv2DTranspose(4, 7, padding="valid")):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
        serialized = keras.saving.serialize_keras_object(layer)
        assert serialized["registered_name"] == \
            f"keras_deconvnet>{type(layer).__name__}"


@pytest.mark.parametrize("kernel_size, padding, spatial", [
    (7, "valid", 7),  # fc6
    (1, "same", 1),  # fc7
    (1, "valid", 1),
    ((3, 2), "valid", (3, 2)),  # a non-square window
])
def test_matrix_product_case_matches_numpy_and_conv2d(
        rng, kernel_size, padding, spatial):
    spatial = spatial if isinstance(spatial, tuple) else (spatial, spatial)
    x = rng.normal(size=(3, *spatial, 5)).astype("float32")
    layer, plain = twin_pair(FullWindowConv2D, keras.layers.Conv2D, x.shape,
                             filters=6, kernel_size=kernel_size,
                             padding=padding)
    outputs = to_numpy(layer(x))
    assert outputs.shape == (3, 1, 1, 6)
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(
        outputs, numpy_full_window_conv(x, kernel, bias), rtol=1e-5,
        atol=1e-4)
    np.testing.assert_allclose(outputs, to_numpy(plain(x)), rtol=1e-5,
                               atol=1e-4)


@pytest.mark.parametrize("arguments, spatial", [
    ({"kernel_size": 7, "padding": "valid"}, 9),  # pool5 of a 288 input
    ({"kernel_size": 3, "padding": "same"}, 3),
    ({"kernel_size": 3, "padding": "valid", "strides": 2}, 3),
    ({"kernel_size": 3, "padding": "valid", "dilation_rate": 2}, 5),
])
def test_other_geometries_are_plain_convolutions(rng, arguments, spatial):
    x = rng.normal(size=(2, spatial, spatial, 4)).astype("float32")
    layer, plain = twin_pair(FullWindowConv2D, keras.layers.Conv2D, x.shape,
                             filters=3, **arguments)
    np.testing.assert_allclose(to_numpy(layer(x)), to_numpy(plain(x)),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel_size, padding", [
    (7, "valid"),  # fc6-deconv
    (1, "same"),
    ((2, 3), "valid"),
])
def test_transpose_matrix_product_case_matches_numpy(
        rng, kernel_size, padding):
    x = rng.normal(size=(3, 1, 1, 5)).astype("float32")
    layer, plain = twin_pair(
        FullWindowConv2DTranspose, keras.layers.Conv2DTranspose, x.shape,
        filters=4, kernel_size=kernel_size, padding=padding)
    outputs = to_numpy(layer(x))
    kernel, bias = layer.get_weights()
    assert outputs.shape == (3, *kernel.shape[:2], 4)
    np.testing.assert_allclose(
        outputs, numpy_single_position_conv_transpose(x, kernel, bias),
        rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(outputs, to_numpy(plain(x)), rtol=1e-5,
                               atol=1e-4)


@pytest.mark.parametrize("arguments, spatial", [
    ({"kernel_size": 7, "padding": "valid"}, 2),
    ({"kernel_size": 3, "padding": "same"}, 1),  # output 1x1, not 3x3
    ({"kernel_size": 3, "padding": "valid", "strides": 2}, 1),
    ({"kernel_size": 3, "padding": "valid", "output_padding": 0}, 1),
])
def test_transpose_other_geometries_are_plain(rng, arguments, spatial):
    x = rng.normal(size=(2, spatial, spatial, 4)).astype("float32")
    layer, plain = twin_pair(
        FullWindowConv2DTranspose, keras.layers.Conv2DTranspose, x.shape,
        filters=3, **arguments)
    np.testing.assert_allclose(to_numpy(layer(x)), to_numpy(plain(x)),
                               rtol=1e-5, atol=1e-5)


def test_activation_and_no_bias(rng):
    x = rng.normal(size=(2, 1, 1, 6)).astype("float32")
    layer, plain = twin_pair(
        FullWindowConv2DTranspose, keras.layers.Conv2DTranspose, x.shape,
        filters=3, kernel_size=4, padding="valid", use_bias=False,
        activation="relu")
    outputs = to_numpy(layer(x))
    assert outputs.min() == 0.0 and outputs.max() > 0.0
    np.testing.assert_allclose(outputs, to_numpy(plain(x)), rtol=1e-5,
                               atol=1e-5)


def test_symbolic_batch_of_unknown_size():
    outputs = FullWindowConv2DTranspose(4, 7, padding="valid")(
        FullWindowConv2D(8, 7, padding="valid")(keras.Input((7, 7, 3))))
    assert outputs.shape == (None, 7, 7, 4)


@pytest.mark.parametrize("full_window_class, plain_class, shape", [
    (FullWindowConv2D, keras.layers.Conv2D, (2, 4, 4, 3)),
    (FullWindowConv2DTranspose, keras.layers.Conv2DTranspose, (2, 1, 1, 3)),
])
def test_input_gradient_equals_the_convolutions(
        rng, full_window_class, plain_class, shape):
    layer, plain = twin_pair(full_window_class, plain_class, shape,
                             filters=5, kernel_size=4, padding="valid")
    x = rng.normal(size=shape).astype("float32")
    upstream = rng.normal(size=to_numpy(plain(x)).shape).astype("float32")
    np.testing.assert_allclose(gradient(layer, x, upstream),
                               gradient(plain, x, upstream), rtol=1e-4,
                               atol=1e-4)


def test_tensorflow_graph_has_a_matmul_and_no_convolution():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow backend only")

    def op_types(layer, shape):
        layer.build(shape)
        graph = tf.function(layer).get_concrete_function(
            tf.TensorSpec(shape, "float32")).graph
        return {op.type for op in graph.get_operations()}

    fc6 = op_types(FullWindowConv2D(8, 7, padding="valid"), (2, 7, 7, 3))
    assert "MatMul" in fc6 or "BatchMatMulV2" in fc6
    assert "Conv2D" not in fc6
    deconv = op_types(FullWindowConv2DTranspose(8, 7, padding="valid"),
                      (2, 1, 1, 3))
    assert "Conv2DBackpropInput" not in deconv
    larger = op_types(FullWindowConv2D(8, 7, padding="valid"), (2, 9, 9, 3))
    assert "Conv2D" in larger


def test_saved_model_round_trip(tmp_path, rng):
    inputs = keras.Input((7, 7, 3))
    outputs = FullWindowConv2DTranspose(2, 7, padding="valid")(
        FullWindowConv2D(4, 7, padding="valid")(inputs))
    model = keras.Model(inputs, outputs)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers[1:]] == [
        "FullWindowConv2D", "FullWindowConv2DTranspose"]
    x = rng.normal(size=(2, 7, 7, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)),
                               rtol=1e-6, atol=1e-6)
