"""BN re-estimation gives the population statistics of the data."""

import numpy as np
import pytest

import keras

from keras_deconvnet.training.batch_norm_statistics import batch_norm_layers
from keras_deconvnet.training.batch_norm_statistics import (
    reestimate_batch_norm_statistics,
)

EPSILON = 1e-3


def two_bn_model():
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.BatchNormalization(epsilon=EPSILON, name="bn1")(inputs)
    x = keras.layers.Conv2D(2, 1, use_bias=True, name="conv")(x)
    x = keras.layers.BatchNormalization(epsilon=EPSILON, name="bn2")(x)
    return keras.Model(inputs, x)


def test_moving_statistics_equal_numpy_population_statistics(rng):
    model = two_bn_model()
    bn1, bn2 = batch_norm_layers(model)
    bn1.gamma.assign(np.array([1.5, 0.5, 2.0], "float32"))
    bn1.beta.assign(np.array([0.1, -0.2, 0.3], "float32"))
    kernel, bias = model.get_layer("conv").get_weights()
    # Data far from the default statistics (mean 0, variance 1).
    data = (rng.normal(size=(6, 4, 4, 3)) * [2.0, 5.0, 0.5] + [3, -7, 10]
            ).astype("float32")
    batches = [data[i:i + 2] for i in range(0, 6, 2)]

    used = reestimate_batch_norm_statistics(model, batches, progress=False)
    assert used == 6

    # Layer 1 sees the raw data: its statistics are the data's.
    np.testing.assert_allclose(bn1.moving_mean.numpy(),
                               data.mean((0, 1, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn1.moving_variance.numpy(),
                               data.var((0, 1, 2)), rtol=1e-4)
    # Layer 2 sees the conv of batch-normalised batches (as in training).
    features = []
    for batch in batches:
        mean, var = batch.mean((0, 1, 2)), batch.var((0, 1, 2))
        normalised = (batch - mean) / np.sqrt(var + EPSILON)
        normalised = normalised * bn1.gamma.numpy() + bn1.beta.numpy()
        features.append(normalised @ kernel[0, 0] + bias)
    features = np.concatenate(features)
    np.testing.assert_allclose(bn2.moving_mean.numpy(),
                               features.mean((0, 1, 2)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn2.moving_variance.numpy(),
                               features.var((0, 1, 2)), rtol=1e-4)


def test_inference_mode_then_equals_batch_statistics_mode(rng):
    # One batch holding the whole data set: its batch statistics are the
    # population statistics, so both modes must agree after re-estimation
    # (and disagree before, with the default moving statistics).
    model = two_bn_model()
    data = (rng.normal(size=(4, 4, 4, 3)) * 3 + 5).astype("float32")
    training = keras.ops.convert_to_numpy(model(data, training=True))
    before = keras.ops.convert_to_numpy(model(data, training=False))
    assert np.abs(before - training).max() > 0.5
    reestimate_batch_norm_statistics(model, [(data, None)], progress=False)
    after = keras.ops.convert_to_numpy(model(data, training=False))
    np.testing.assert_allclose(after, training, rtol=1e-3, atol=1e-3)


def test_num_batches_limits_an_endless_iterable(rng):
    model = two_bn_model()

    def endless():
        while True:
            yield rng.normal(size=(2, 4, 4, 3)).astype("float32")

    assert reestimate_batch_norm_statistics(
        model, endless(), num_batches=3, progress=False
    ) == 6


def test_errors():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="no BatchNormalization"):
        reestimate_batch_norm_statistics(model, [np.zeros((1, 3))])
    with pytest.raises(ValueError, match="no batch"):
        reestimate_batch_norm_statistics(two_bn_model(), [], progress=False)


def test_frozen_layers_keep_their_statistics_and_inference_matches(rng):
    model = two_bn_model()
    bn1, bn2 = batch_norm_layers(model)
    bn1.moving_mean.assign(np.array([1.0, -2.0, 3.0], "float32"))
    bn1.moving_variance.assign(np.array([4.0, 0.5, 2.0], "float32"))
    bn1.trainable = False  # Keras 3: moving statistics even in training
    data = (rng.normal(size=(4, 4, 4, 3)) * 3 + 5).astype("float32")
    used = reestimate_batch_norm_statistics(model, [data], progress=False)
    assert used == 4
    np.testing.assert_array_equal(bn1.moving_mean.numpy(), [1.0, -2.0, 3.0])
    # Over this one batch, inference mode is the network as trained.
    np.testing.assert_allclose(model(data, training=False),
                               model(data, training=True), atol=1e-4)
    bn2.trainable = False
    assert reestimate_batch_norm_statistics(model, [data],
                                            progress=False) == 0


def test_default_bn_examples_follows_the_run_within_bounds():
    from keras_deconvnet.training.batch_norm_check import (
        MIN_BN_EXAMPLES, PAPER_BN_EXAMPLES, default_bn_examples)

    assert default_bn_examples(20 * 2) == MIN_BN_EXAMPLES == 512
    assert default_bn_examples(3000) == 3000
    assert default_bn_examples(20000 * 64) == PAPER_BN_EXAMPLES == 14000


def test_batch_norm_check_streams_the_validation_batches(rng):
    import types
    import weakref

    tf = pytest.importorskip("tensorflow")
    from keras_deconvnet.training.batch_norm_check import finish_batch_norm

    alive, most_alive = set(), [0]

    class Tracked(np.ndarray):
        pass

    class Batches:
        """Six (images, labels) batches, counting those still in memory."""

        def take(self, count):
            for index in range(count):
                images = (rng.normal(size=(2, 4, 4, 3)) + 3).astype(
                    "float32").view(Tracked)
                alive.add(index)
                weakref.finalize(images, alive.discard, index)
                most_alive[0] = max(most_alive[0], len(alive))
                yield images, np.zeros((2, 4, 4), "int32")

    inputs = keras.Input((4, 4, 3))
    x = keras.layers.BatchNormalization()(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(x))
    setup = types.SimpleNamespace(
        is_chief=True, model=model, validation_data=Batches(),
        validation_steps=6, train_data=None, batch_size=2, epochs=1,
        steps_per_epoch=1, bn_data=[tf.ones((2, 4, 4, 3))],
        config={"num_classes": 2, "ignore_label": 255})
    result = finish_batch_norm(setup, 2, verbose=0)
    assert result["reestimated_over_examples"] == 2
    assert most_alive[0] <= 2, most_alive  # not all six at once
