import os

import numpy as np
import pytest

import keras

from keras_deconvnet.layers import WinogradConv2D
from keras_deconvnet.layers.winograd_conv import WINOGRAD_MATRICES
from keras_deconvnet.layers.winograd_conv import winograd_conv2d
from keras_deconvnet.layers.winograd_conv import winograd_kernel
from tests.layer_testing import gradient


def numpy_conv_same(x, kernel, bias=0.0):
    """3x3 "same" cross-correlation: out(i, j) = sum_ab x(i+a-1, j+b-1) k(a, b)."""
    height, width = x.shape[1:3]
    padded = np.pad(x.astype(np.float64), [(0, 0), (1, 1), (1, 1), (0, 0)])
    out = np.zeros((x.shape[0], height, width, kernel.shape[-1]))
    for a in range(3):
        for b in range(3):
            out += np.einsum("nhwc,co->nhwo",
                             padded[:, a:a + height, b:b + width],
                             kernel[a, b])
    return out + bias


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def layer_with_weights(rng, input_shape, **arguments):
    layer = WinogradConv2D(**arguments)
    layer.build(input_shape)
    layer.set_weights([rng.normal(size=w.shape).astype("float32")
                       for w in layer.get_weights()])
    return layer


def test_kernel_transform_matches_numpy(rng):
    kernel = rng.normal(size=(3, 3, 4, 5)).astype("float32")
    for tile in (2, 4):
        g = np.asarray(WINOGRAD_MATRICES[tile][1])
        expected = np.einsum("ai,ijck,bj->abck", g, kernel, g)
        got = to_numpy(winograd_kernel(keras.ops.convert_to_tensor(kernel),
                                       tile))
        assert got.shape == ((tile + 2) ** 2, 4, 5)
        np.testing.assert_allclose(got, expected.reshape(-1, 4, 5),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("shape", [
    (2, 8, 8, 3),  # whole tiles
    (1, 13, 6, 5),  # partial tiles, cropped at the end
    (3, 1, 1, 2),  # one pixel: only the kernel's centre counts
])
def test_winograd_conv2d_matches_numpy_convolution(rng, tile, shape):
    x = rng.normal(size=shape).astype("float32")
    kernel = rng.normal(size=(3, 3, shape[-1], 4)).astype("float32")
    transformed = winograd_kernel(keras.ops.convert_to_tensor(kernel), tile)
    got = to_numpy(winograd_conv2d(keras.ops.convert_to_tensor(x),
                                   transformed, tile))
    expected = numpy_conv_same(x, kernel)
    assert got.shape == expected.shape
    # F(4x4, 3x3) rounds more than F(2x2, 3x3) (larger transform entries).
    np.testing.assert_allclose(got, expected, rtol=1e-4,
                               atol=1e-5 * tile * np.abs(expected).max())


def test_winograd_gradient_equals_the_convolutions(rng):
    x = rng.normal(size=(2, 9, 7, 3)).astype("float32")
    kernel = rng.normal(size=(3, 3, 3, 4)).astype("float32")
    transformed = winograd_kernel(keras.ops.convert_to_tensor(kernel))
    upstream = rng.normal(size=(2, 9, 7, 4)).astype("float32")
    np.testing.assert_allclose(
        gradient(lambda t: winograd_conv2d(t, transformed), x, upstream),
        gradient(lambda t: keras.ops.conv(t, kernel, padding="same"), x,
                 upstream),
        rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("use_bias, activation", [
    (True, "relu"), (False, None), (True, "sigmoid")])
def test_layer_matches_numpy_eager_and_in_predict(rng, use_bias, activation):
    x = rng.normal(size=(2, 10, 12, 6)).astype("float32")
    layer = layer_with_weights(rng, x.shape, filters=5, use_bias=use_bias,
                               activation=activation)
    weights = layer.get_weights()
    expected = numpy_conv_same(x, weights[0],
                               weights[1] if use_bias else 0.0)
    if activation == "relu":
        expected = np.maximum(expected, 0)
    elif activation == "sigmoid":
        expected = 1 / (1 + np.exp(-expected))
    model = keras.Sequential([keras.Input(x.shape[1:]), layer])
    tolerance = 1e-4 * np.abs(expected).max()
    for got in (to_numpy(layer(x)), model.predict_on_batch(x)):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=tolerance)


def test_unknown_spatial_size_runs_the_plain_convolution(rng):
    layer = WinogradConv2D(3, activation="relu")
    model = keras.Sequential([keras.Input((None, None, 4)), layer])
    x = rng.normal(size=(1, 6, 9, 4)).astype("float32")
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(
        model.predict_on_batch(x),
        np.maximum(numpy_conv_same(x, kernel, bias), 0), rtol=1e-4,
        atol=1e-4)


@pytest.mark.parametrize("arguments, message", [
    ({"kernel_size": 5}, "kernel_size"),
    ({"strides": 2}, "strides"),
    ({"dilation_rate": 2}, "dilation_rate"),
    ({"padding": "valid"}, "padding"),
    ({"groups": 2}, "groups"),
    ({"tile": 3}, "tile"),
    ({"jit_compile": "sometimes"}, "jit_compile"),
])
def test_unsupported_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        WinogradConv2D(4, **arguments)


def test_config_round_trip_and_saving(tmp_path, rng):
    layer = WinogradConv2D(4, tile=2, jit_compile=False, activation="relu",
                           name="conv")
    config = layer.get_config()
    assert config["tile"] == 2 and config["jit_compile"] is False
    assert WinogradConv2D.from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "keras_deconvnet>WinogradConv2D"
    model = keras.Sequential([keras.Input((8, 8, 3)), layer])
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.layers[0]) is WinogradConv2D
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict_on_batch(x),
                               model.predict_on_batch(x), rtol=1e-6,
                               atol=1e-6)


def tensorflow_only():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow graphs")
    return tf


def test_predict_compiles_winograd_and_exports_stay_portable(
        rng, tmp_path, monkeypatch):
    tf = tensorflow_only()
    from keras_deconvnet.layers import winograd_conv
    from tests.test_default_fast_path import xla_nodes

    monkeypatch.setattr(winograd_conv, "_shared_clusters", {})
    layers = [layer_with_weights(rng, (1, 8, 8, 4), filters=4)
              for _ in range(2)]
    model = keras.Sequential([keras.Input((8, 8, 4)), *layers])
    model.predict_on_batch(np.zeros((1, 8, 8, 4), "float32"))
    # Both layers (same shapes) ran one shared XLA function, traced once.
    (cluster,) = winograd_conv._shared_clusters.values()
    assert cluster.experimental_get_tracing_count() == 1
    model.export(str(tmp_path / "export"), verbose=False)
    assert xla_nodes(str(tmp_path / "export")) == []
    # The export runs the plain convolution, not the transforms.
    loaded = tf.saved_model.load(str(tmp_path / "export"))
    ops = {op.type for op in loaded.serve.get_concrete_function(
        tf.TensorSpec((None, 8, 8, 4))).graph.get_operations()}
    library = {node.op for function in loaded.serve.get_concrete_function(
        tf.TensorSpec((None, 8, 8, 4))).graph.as_graph_def().library.function
        for node in function.node_def}
    assert "Conv2D" in ops | library
    assert not {"BatchMatMulV2", "BatchMatMulV3"} & (ops | library)
    assert os.path.exists(str(tmp_path / "export" / "saved_model.pb"))


def test_training_step_matches_conv2d(rng):
    """`fit` runs the Winograd path (the XLA cluster on TensorFlow, the
    transforms on JAX) and its gradients: one SGD step moves the weights
    as a plain `Conv2D`'s."""
    x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    y = rng.normal(size=(4, 8, 8, 2)).astype("float32")
    models = []
    for layer_class in (WinogradConv2D, keras.layers.Conv2D):
        model = keras.Sequential([
            keras.Input((8, 8, 3)),
            layer_class(5, 3, padding="same", activation="relu"),
            layer_class(2, 3, padding="same")])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    before = models[0].get_weights()
    for model in models:
        model.train_on_batch(x, y)
    for winograd, plain, start in zip(models[0].get_weights(),
                                      models[1].get_weights(), before):
        assert np.abs(plain - start).max() > 1e-4  # the step moved them
        np.testing.assert_allclose(winograd, plain, rtol=1e-4, atol=1e-5)


def test_saved_model_and_tflite_get_the_plain_convolution(rng, tmp_path):
    tf = tensorflow_only()
    from tests.test_default_fast_path import xla_nodes

    layer = layer_with_weights(rng, (1, 8, 8, 4), filters=3,
                               activation="relu")
    model = keras.Sequential([keras.Input((8, 8, 4), batch_size=1), layer])
    x = rng.normal(size=(1, 8, 8, 4)).astype("float32")
    expected = model.predict_on_batch(x)  # traces the XLA cluster first
    tf.saved_model.save(model, str(tmp_path / "saved"))
    assert xla_nodes(str(tmp_path / "saved")) == []
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())
