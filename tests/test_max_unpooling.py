import numpy as np
import pytest

import keras

from keras_deconvnet.layers import MaxPoolingWithArgmax2D
from keras_deconvnet.layers import MaxUnpooling2D
from tests import layer_testing
from tests.conftest import requires_tensorflow


def test_config_round_trip():
    layer = MaxUnpooling2D(pool_size=(3, 2), name="unpool")
    config = layer.get_config()
    assert config["pool_size"] == (3, 2)
    assert MaxUnpooling2D.from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "keras_deconvnet>MaxUnpooling2D"


def test_symbolic_shapes_and_dtypes():
    values = keras.Input((4, 6, 5))
    switches = keras.Input((4, 6, 5), dtype="int32")
    output = MaxUnpooling2D()(values, switches)
    assert output.shape == (None, 8, 12, 5)
    assert output.dtype == "float32"
    listed = MaxUnpooling2D()([values, switches])
    assert listed.shape == (None, 8, 12, 5)
    dynamic = keras.Input((None, None, 5))
    dynamic_switches = keras.Input((None, None, 5), dtype="int32")
    assert MaxUnpooling2D()(dynamic, dynamic_switches).shape == (
        None,
        None,
        None,
        5,
    )


@pytest.mark.parametrize("pool_size", [(2, 2), (3, 2)])
def test_values_against_numpy(rng, pool_size):
    values = rng.normal(size=(2, 4, 5, 3)).astype("float32")
    switches = rng.integers(0, pool_size[0] * pool_size[1], size=values.shape)
    switches = switches.astype("int32")
    output = MaxUnpooling2D(pool_size)(values, switches)
    expected = layer_testing.numpy_unpool(values, switches, pool_size)
    np.testing.assert_array_equal(np.asarray(output), expected)
    # Both call forms give the same result.
    listed = MaxUnpooling2D(pool_size)([values, switches])
    np.testing.assert_array_equal(np.asarray(listed), expected)


def test_pool_then_unpool_keeps_exactly_one_value_per_window(rng):
    x = layer_testing.random_with_ties(rng, (2, 16, 16, 4))
    pooled, switches = MaxPoolingWithArgmax2D()(x)
    restored = np.asarray(MaxUnpooling2D()(pooled, switches))
    windows = restored.reshape(2, 8, 2, 8, 2, 4).transpose(0, 1, 3, 5, 2, 4)
    windows = windows.reshape(2, 8, 8, 4, 4)
    # Each window holds its maximum once, at the first maximal position.
    np.testing.assert_array_equal(windows.max(-1), np.asarray(pooled))
    first_max = layer_testing.numpy_max_pool_with_argmax(x)[1]
    np.testing.assert_array_equal(
        layer_testing.numpy_unpool(np.asarray(pooled), first_max), restored
    )


def test_gradient_gathers_at_the_switches(rng):
    values = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    switches = rng.integers(0, 4, size=values.shape).astype("int32")
    upstream = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    layer = MaxUnpooling2D()
    grad = layer_testing.gradient(lambda t: layer(t, switches), values, upstream)
    windows = upstream.reshape(2, 4, 2, 4, 2, 3).transpose(0, 1, 3, 5, 2, 4)
    windows = windows.reshape(2, 4, 4, 3, 4)
    expected = np.take_along_axis(windows, switches[..., None], -1)[..., 0]
    np.testing.assert_allclose(grad, expected, atol=1e-6)


@requires_tensorflow
def test_xla_compile_and_unknown_batch(rng):
    import tensorflow as tf

    pool, unpool = MaxPoolingWithArgmax2D(), MaxUnpooling2D()

    @tf.function(
        jit_compile=True,
        input_signature=[tf.TensorSpec((None, 8, 8, 3), tf.float32)],
    )
    def round_trip(x):
        return unpool(*pool(x))

    for batch in (1, 4):
        x = layer_testing.random_with_ties(rng, (batch, 8, 8, 3))
        pooled, switches = layer_testing.numpy_max_pool_with_argmax(x)
        np.testing.assert_array_equal(
            round_trip(x).numpy(), layer_testing.numpy_unpool(pooled, switches)
        )


def test_fit_step_and_save_load(tmp_path, rng):
    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    pooled, switches = MaxPoolingWithArgmax2D(name="pool")(features)
    pooled = keras.layers.Conv2D(4, 1, name="middle")(pooled)
    outputs = MaxUnpooling2D(name="unpool")(pooled, switches)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    y = rng.normal(size=(4, 8, 8, 4)).astype("float32")
    before = [w.copy() for w in model.get_weights()]
    loss = model.fit(x, y, epochs=1, verbose=0).history["loss"][0]
    assert np.isfinite(loss)
    assert all(
        not np.allclose(a, b) for a, b in zip(before, model.get_weights())
    )
    path = tmp_path / "unpool.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), restored.predict(x, verbose=0)
    )


def test_invalid_inputs():
    values = keras.Input((4, 4, 3))
    with pytest.raises(ValueError, match="same shape"):
        MaxUnpooling2D()(values, keras.Input((4, 5, 3), dtype="int32"))
    with pytest.raises(ValueError, match="rank 4"):
        MaxUnpooling2D()(values, keras.Input((4, 4), dtype="int32"))
    with pytest.raises(ValueError, match=r"layer\(values, switches\)"):
        MaxUnpooling2D()(np.zeros((1, 2, 2, 1), "float32"))
    with pytest.raises(ValueError, match="integer `switches`"):
        MaxUnpooling2D()(
            np.zeros((1, 2, 2, 1), "float32"), np.zeros((1, 2, 2, 1), "float32")
        )
    with pytest.raises(ValueError, match="pool_size"):
        MaxUnpooling2D(pool_size=-1)


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_pytorch_max_unpool(seed):
    """Same semantics as PyTorch's MaxPool2d(return_indices) + MaxUnpool2d."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x = np.concatenate(
        [
            rng.normal(size=(2, 6, 10, 3)),
            layer_testing.random_with_ties(rng, (2, 6, 10, 3)),
        ]
    ).astype("float32")
    pooled, switches = MaxPoolingWithArgmax2D()(x)
    ours = np.asarray(MaxUnpooling2D()(pooled, switches))
    nchw = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    torch_pooled, indices = torch.nn.MaxPool2d(2, return_indices=True)(nchw)
    theirs = torch.nn.MaxUnpool2d(2)(torch_pooled, indices)
    np.testing.assert_array_equal(
        np.asarray(pooled), torch_pooled.numpy().transpose(0, 2, 3, 1)
    )
    np.testing.assert_array_equal(ours, theirs.numpy().transpose(0, 2, 3, 1))


@requires_tensorflow
def test_xla_clusters_inside_a_graph_equal_the_plain_ops(rng):
    """`jit_compile=True`: same values and gradients, saved in the config."""
    import tensorflow as tf

    from keras_deconvnet.layers import pooling_jit_compile
    from keras_deconvnet.layers import window_utils

    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(3, 3, padding="same")(inputs)
    pooled, switches = MaxPoolingWithArgmax2D(name="pool")(features)
    model = keras.Model(inputs, MaxUnpooling2D(name="unpool")(pooled, switches))
    x = tf.constant(layer_testing.random_with_ties(rng, (2, 8, 8, 3)))

    def values_and_gradient():
        @tf.function
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = model(x)
                loss = tf.reduce_sum(y * y)
            return y, tape.gradient(loss, x)

        return [t.numpy() for t in run(x)]

    plain = values_and_gradient()
    with pooling_jit_compile(model, True):
        compiled = values_and_gradient()
        assert model.get_layer("pool").get_config()["jit_compile"] is True
    # The XLA functions really were built and used.
    assert model.get_layer("pool") in window_utils._compiled_functions
    assert model.get_layer("unpool") in window_utils._compiled_functions
    assert model.get_layer("pool").jit_compile == "auto"  # restored
    for a, b in zip(plain, compiled):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    restored = MaxUnpooling2D.from_config(
        MaxUnpooling2D(jit_compile=True).get_config()
    )
    assert restored.jit_compile is True
