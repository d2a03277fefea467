"""Checkpoint arrays: weights and optimizer state in one `.npz`, exact
round trip, clear errors for another network, older checkpoints read."""

import json
import os

import numpy as np
import pytest

import keras

from keras_deconvnet.training import checkpoint_arrays
from keras_deconvnet.training import checkpoints


def small_model(filters=4, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(filters, 3, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.Conv2D(2, 1),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    return model


def trained_model(steps=2, seed=0):
    model = small_model(seed=seed)
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    labels = rng.integers(0, 2, (4, 8, 8)).astype("int32")
    for _ in range(steps):
        model.train_on_batch(images, labels)
    return model


def values(model):
    return [keras.ops.convert_to_numpy(v)
            for v in list(model.weights) + list(model.optimizer.variables)]


def test_round_trip_restores_weights_and_optimizer_state(tmp_path):
    trained = trained_model()
    path = str(tmp_path / "state.npz")
    state = {"epoch": 1, "step": 2, "plateau": {"best": 0.5}}
    checkpoint_arrays.save_arrays(trained, path, state)
    assert os.path.isfile(path)  # no suffix added to the given name

    fresh = small_model(seed=1)
    fresh.optimizer.build(fresh.trainable_variables)
    assert not np.array_equal(values(fresh)[0], values(trained)[0])
    assert checkpoint_arrays.load_arrays(fresh, path) == state
    expected, actual = values(trained), values(fresh)
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        np.testing.assert_array_equal(got, want)
    # Momenta and the iteration count are part of it.
    assert int(keras.ops.convert_to_numpy(fresh.optimizer.iterations)) == 2


def test_another_network_is_a_clear_error(tmp_path):
    path = str(tmp_path / "state.npz")
    checkpoint_arrays.save_arrays(trained_model(), path)

    wider = small_model(filters=6)
    wider.optimizer.build(wider.trainable_variables)
    with pytest.raises(ValueError, match=r"shape \(3, 3, 3, 4\).*\(3, 3, 3, "
                                         r"6\)"):
        checkpoint_arrays.load_arrays(wider, path)

    # 8 weights, then the optimizer's iteration count, learning rate and
    # 6 momenta; an unbuilt optimizer has no momenta yet.
    unbuilt_optimizer = small_model()
    with pytest.raises(ValueError, match="holds 16 variables.*have 10"):
        checkpoint_arrays.load_arrays(unbuilt_optimizer, path)
    # The network's weights alone fit any optimizer.
    checkpoint_arrays.load_arrays(unbuilt_optimizer, path,
                                  optimizer_state=False)
    for got, want in zip(unbuilt_optimizer.get_weights(),
                         trained_model().get_weights()):
        np.testing.assert_array_equal(got, want)


def test_restore_reads_older_h5_checkpoints_and_saves_replace_them(
        tmp_path):
    trained = trained_model()
    directory = tmp_path / "checkpoint"
    directory.mkdir()
    # A checkpoint as written before `.npz` checkpoints existed.
    legacy = directory / checkpoints.LEGACY_WEIGHTS_FILE
    trained.save_weights(str(legacy))
    (directory / checkpoints.STATE_FILE).write_text(json.dumps(
        {"epoch": 1, "step": 0, "iterations": 2}))

    resumed = small_model(seed=1)
    state = checkpoints.restore(resumed, str(directory))
    assert state["iterations"] == 2
    for got, want in zip(values(resumed), values(trained)):
        np.testing.assert_array_equal(got, want)

    # The next save writes the arrays and drops the stale HDF5 file.
    callback = checkpoints.StepCheckpoint(str(directory), save_every=1,
                                          steps_per_epoch=3)
    callback.set_model(resumed)
    callback.on_epoch_end(1)
    assert (directory / checkpoints.ARRAYS_FILE).is_file()
    assert not legacy.exists()
    assert checkpoints.read_training_state(str(directory))["epoch"] == 2
    again = small_model(seed=2)
    assert checkpoints.restore(again, str(directory))["epoch"] == 2
    for got, want in zip(values(again), values(trained)):
        np.testing.assert_array_equal(got, want)


def test_a_kill_between_the_renames_resumes_with_the_arrays_state(
        tmp_path):
    directory = tmp_path / "checkpoint"
    callback = checkpoints.StepCheckpoint(str(directory), save_every=1,
                                          steps_per_epoch=3)
    callback.set_model(trained_model(steps=2))
    callback.on_train_batch_end(0)  # epoch 0, step 1
    older_json = (directory / checkpoints.STATE_FILE).read_text()
    callback.set_model(trained_model(steps=3))
    callback.on_train_batch_end(1)  # epoch 0, step 2
    # As if killed after the arrays' rename, before the JSON's.
    (directory / checkpoints.STATE_FILE).write_text(older_json)
    state = checkpoints.restore(small_model(), str(directory))
    assert (state["step"], state["iterations"]) == (2, 3)
