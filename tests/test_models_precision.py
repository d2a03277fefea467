import numpy as np
import pytest

import keras

from keras_deconvnet.models.precision import with_precision


def small_network():
    """A convolution with its BN (folded away), then a BN that follows a
    ReLU (not foldable: it stays in the twin), then float32 scores."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="conv_bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.BatchNormalization(name="late_bn")(x)
    x = keras.layers.Conv2DTranspose(4, 3, padding="same", name="deconv")(x)
    outputs = keras.layers.Conv2D(2, 1, dtype="float32", name="scores")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    model.set_weights([
        (rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path
         else rng.normal(0, 0.5, w.shape)).astype("float32")
        for w in model.weights])
    return model


def mixed_bfloat16_twin(model):
    """The twin as `mixed_bfloat16` would make it: float32 weights,
    rounded to bfloat16 at every call."""
    from keras_deconvnet.models import optimize_for_inference

    model = optimize_for_inference(model, winograd=False)
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] != "InputLayer" and \
                layer["config"]["name"] != "scores":
            layer["config"]["dtype"] = "mixed_bfloat16"
    twin = model.__class__.from_config(config)
    twin.set_weights(model.get_weights())
    return twin


def test_twin_stores_bfloat16_weights_and_computes_what_mixed_does():
    model = small_network()
    twin = with_precision(model, "bfloat16")
    assert twin.get_layer("conv").kernel.dtype == "bfloat16"
    # The stride-1 transposed convolution runs as a convolution.
    assert type(twin.get_layer("deconv")) is keras.layers.Conv2D
    assert twin.get_layer("deconv").kernel.dtype == "bfloat16"
    assert [layer.name for layer in twin.layers
            if isinstance(layer, keras.layers.BatchNormalization)] == [
                "late_bn"]
    # An unfolded normalisation keeps float32 statistics.
    assert twin.get_layer("late_bn").dtype_policy.name == "mixed_bfloat16"
    assert twin.get_layer("late_bn").moving_variance.dtype == "float32"
    assert twin.get_layer("scores").dtype_policy.name == "float32"
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype("float32")
    stored = keras.ops.convert_to_numpy(twin(x))
    mixed = keras.ops.convert_to_numpy(mixed_bfloat16_twin(model)(x))
    assert stored.dtype == np.float32
    np.testing.assert_array_equal(stored, mixed)
    exact = keras.ops.convert_to_numpy(model(x))
    error = np.abs(stored - exact).max() / np.abs(exact).max()
    assert 0 < error < 0.05, error


def test_float32_is_the_model_itself_and_bad_precision_is_named():
    model = small_network()
    assert with_precision(model, "float32") is model
    with pytest.raises(ValueError, match="precision='float16'"):
        with_precision(model, "float16")
