"""Tests of `fold_batch_norm` (BatchNormalization merged into convolutions)."""

import keras
import numpy as np
import pytest

from keras_deconvnet.models import DeconvNet
from keras_deconvnet.models import fold_batch_norm
from keras_deconvnet.models.batch_norm_folding import find_foldable_pairs
from keras_deconvnet.models.batch_norm_folding import (
    fold_batch_norm_if_possible)


def randomize_batch_norms(model, rng):
    """Gives every BN non-trivial statistics so folding has work to do."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.moving_mean.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 2.0, channels),
                    rng.normal(0.0, 1.0, channels),
                    rng.normal(0.0, 1.0, channels),
                    rng.uniform(0.5, 2.0, channels),
                ]
            )


def small_conv_model(use_bias=True):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=use_bias)(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-3)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2DTranspose(5, 3, strides=2, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    outputs = keras.layers.Conv2D(2, 1)(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("use_bias", [True, False])
def test_folded_model_matches_inference_mode(use_bias, rng):
    model = small_conv_model(use_bias=use_bias)
    randomize_batch_norms(model, rng)
    folded = fold_batch_norm(model)
    images = rng.normal(size=(3, 8, 8, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    actual = keras.ops.convert_to_numpy(folded(images))
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=1e-4)
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in folded.layers
    )


def test_folding_matches_hand_computed_affine_map():
    # One 1x1 convolution with kernel 2 and bias 1, BN with gamma 3,
    # beta 0.5, mean 4, variance 0.25 - epsilon: y = 3 * (2x + 1 - 4) / 0.5
    # + 0.5 = 12x - 17.5.
    inputs = keras.Input((1, 1, 1))
    x = keras.layers.Conv2D(1, 1)(inputs)
    epsilon = 1e-3
    outputs = keras.layers.BatchNormalization(epsilon=epsilon)(x)
    model = keras.Model(inputs, outputs)
    model.layers[1].set_weights([np.full((1, 1, 1, 1), 2.0), np.ones(1)])
    model.layers[2].set_weights(
        [np.full(1, 3.0), np.full(1, 0.5), np.full(1, 4.0),
         np.full(1, 0.25 - epsilon)]
    )
    folded = fold_batch_norm(model)
    kernel, bias = folded.layers[1].get_weights()
    np.testing.assert_allclose(kernel.ravel(), [12.0], rtol=1e-6)
    np.testing.assert_allclose(bias, [-17.5], rtol=1e-6)


def test_parameter_count_drops_by_the_batch_norm_weights(rng):
    model = DeconvNet(num_classes=3, width=0.0625)
    pairs = find_foldable_pairs(model)
    assert len(pairs) == 29  # every BN of the paper network
    batch_norm_parameters = sum(
        model.get_layer(name).count_params() for _, name in pairs
    )
    folded = fold_batch_norm(model)
    assert folded.count_params() == (
        model.count_params() - batch_norm_parameters
    )
    assert len(folded.layers) == len(model.layers) - 29


def test_deconvnet_outputs_match_after_folding(rng):
    model = DeconvNet(num_classes=3, width=0.0625)
    randomize_batch_norms(model, rng)
    folded = fold_batch_norm(model)
    images = rng.uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    actual = keras.ops.convert_to_numpy(folded(images))
    scale = np.abs(expected).max()
    np.testing.assert_allclose(actual / scale, expected / scale, atol=1e-4)


def test_folded_model_saves_and_loads(tmp_path, rng):
    model = small_conv_model()
    randomize_batch_norms(model, rng)
    folded = fold_batch_norm(model)
    path = tmp_path / "folded.keras"
    folded.save(path)
    restored = keras.saving.load_model(path)
    images = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(images)),
        keras.ops.convert_to_numpy(folded(images)),
        atol=1e-6,
    )


def test_batch_norm_with_two_consumers_of_its_input_is_kept():
    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(2, 1)(inputs)
    normed = keras.layers.BatchNormalization()(x)
    outputs = keras.layers.Add()([normed, x])
    model = keras.Model(inputs, outputs)
    assert find_foldable_pairs(model) == []
    folded = fold_batch_norm(model)
    assert any(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in folded.layers
    )


def test_rejects_a_model_that_is_not_functional():
    with pytest.raises(ValueError, match="functional"):
        fold_batch_norm(keras.layers.Dense(2))


def test_fold_batch_norm_if_possible_returns_unfoldable_models_unchanged():
    inputs = keras.Input((4, 4, 2))
    plain = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    assert fold_batch_norm_if_possible(plain) is plain

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 1)
            self.norm = keras.layers.BatchNormalization()

        def call(self, x):
            return self.norm(self.conv(x))

    subclassed = Subclassed()
    subclassed(np.zeros((1, 4, 4, 2), "float32"))
    assert fold_batch_norm_if_possible(subclassed) is subclassed

    x = keras.layers.Conv2D(2, 1)(inputs)
    foldable = keras.Model(inputs, keras.layers.BatchNormalization()(x))
    folded = fold_batch_norm_if_possible(foldable)
    assert folded is not foldable
    assert not any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in folded.layers)
