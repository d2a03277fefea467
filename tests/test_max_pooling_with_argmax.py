import os

import numpy as np
import pytest

import keras

from keras_deconvnet.layers import MaxPoolingWithArgmax2D
from tests import layer_testing
from tests.conftest import requires_tensorflow


def test_config_round_trip():
    layer = MaxPoolingWithArgmax2D(pool_size=(2, 3), name="pool")
    config = layer.get_config()
    assert config["pool_size"] == (2, 3) and config["strides"] == (2, 3)
    restored = MaxPoolingWithArgmax2D.from_config(config)
    assert restored.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == (
        "keras_deconvnet>MaxPoolingWithArgmax2D"
    )
    assert keras.saving.deserialize_keras_object(serialized).pool_size == (
        2,
        3,
    )


def test_symbolic_shapes_and_dtypes():
    inputs = keras.Input((8, 12, 5))
    pooled, switches = MaxPoolingWithArgmax2D()(inputs)
    assert pooled.shape == (None, 4, 6, 5)
    assert switches.shape == (None, 4, 6, 5)
    assert pooled.dtype == "float32"
    assert switches.dtype == "int32"
    dynamic = keras.Input((None, None, 5))
    pooled, switches = MaxPoolingWithArgmax2D()(dynamic)
    assert pooled.shape == (None, None, None, 5)
    assert switches.dtype == "int32"


@pytest.mark.parametrize("pool_size", [(2, 2), (3, 2), (1, 4)])
def test_values_against_numpy(rng, pool_size):
    x = rng.normal(size=(3, 12, 8, 4)).astype("float32")
    pooled, switches = MaxPoolingWithArgmax2D(pool_size)(x)
    expected_pooled, expected_switches = (
        layer_testing.numpy_max_pool_with_argmax(x, pool_size)
    )
    np.testing.assert_array_equal(np.asarray(pooled), expected_pooled)
    np.testing.assert_array_equal(np.asarray(switches), expected_switches)
    assert keras.backend.standardize_dtype(switches.dtype) == "int32"


def test_ties_take_the_first_position(rng):
    x = layer_testing.random_with_ties(rng, (2, 16, 16, 6))
    _, switches = MaxPoolingWithArgmax2D()(x)
    _, expected = layer_testing.numpy_max_pool_with_argmax(x)
    np.testing.assert_array_equal(np.asarray(switches), expected)
    # An all-zero window (typical after ReLU) selects position 0.
    zeros = np.zeros((1, 2, 2, 1), "float32")
    assert int(np.asarray(MaxPoolingWithArgmax2D()(zeros)[1]).item()) == 0
    # Explicit tie between positions 1 and 3: the first (1) wins.
    tie = np.array([0.0, 5.0, 1.0, 5.0], "float32").reshape(1, 2, 2, 1)
    assert int(np.asarray(MaxPoolingWithArgmax2D()(tie)[1]).item()) == 1


def test_gradient_goes_to_the_switch_only(rng):
    x = layer_testing.random_with_ties(rng, (2, 8, 8, 3))
    upstream = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    layer = MaxPoolingWithArgmax2D()
    grad = layer_testing.gradient(lambda t: layer(t)[0], x, upstream)
    _, switches = layer_testing.numpy_max_pool_with_argmax(x)
    expected = layer_testing.numpy_unpool(upstream, switches)
    np.testing.assert_allclose(grad, expected, atol=1e-6)


@requires_tensorflow
def test_xla_compile_matches_eager(rng):
    import tensorflow as tf

    layer = MaxPoolingWithArgmax2D()
    x = layer_testing.random_with_ties(rng, (2, 8, 8, 3))
    compiled = tf.function(layer, jit_compile=True)
    pooled, switches = compiled(x)
    expected_pooled, expected_switches = (
        layer_testing.numpy_max_pool_with_argmax(x)
    )
    np.testing.assert_array_equal(pooled.numpy(), expected_pooled)
    np.testing.assert_array_equal(switches.numpy(), expected_switches)


@requires_tensorflow
def test_unknown_batch_size_in_a_graph(rng):
    import tensorflow as tf

    layer = MaxPoolingWithArgmax2D()
    function = tf.function(
        layer, input_signature=[tf.TensorSpec((None, 8, 8, 2), tf.float32)]
    )
    for batch in (1, 3):
        x = rng.normal(size=(batch, 8, 8, 2)).astype("float32")
        _, switches = function(x)
        np.testing.assert_array_equal(
            switches.numpy(), layer_testing.numpy_max_pool_with_argmax(x)[1]
        )


def test_fit_step_and_save_load(tmp_path, rng):
    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    pooled, switches = MaxPoolingWithArgmax2D(name="pool")(features)
    model = keras.Model(inputs, [pooled, switches])
    training_model = keras.Model(inputs, pooled)
    training_model.compile(optimizer="sgd", loss="mse")
    x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    y = rng.normal(size=(4, 4, 4, 4)).astype("float32")
    before = training_model.get_weights()[0].copy()
    history = training_model.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(before, training_model.get_weights()[0])
    path = tmp_path / "pool.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    for a, b in zip(model.predict(x, verbose=0), restored.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pool_size": 0}, "pool_size=0"),
        ({"pool_size": (2, 2, 2)}, "pool_size=(2, 2, 2)"),
        ({"pool_size": 2, "strides": 1}, "strides=1"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MaxPoolingWithArgmax2D(**kwargs)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="multiples of pool_size"):
        MaxPoolingWithArgmax2D()(keras.Input((7, 8, 3)))
    with pytest.raises(ValueError, match="rank 4"):
        MaxPoolingWithArgmax2D()(keras.Input((8, 3)))
    with pytest.raises(ValueError, match="axis 2"):
        MaxPoolingWithArgmax2D()(np.zeros((1, 8, 9, 1), "float32"))
