"""StopOnNaN, HistoryWriter, StepCheckpoint and BatchStatisticsValidation."""

import json
import os

import numpy as np
import pytest

import keras

from keras_deconvnet.training import checkpoints
from keras_deconvnet.training.callbacks import HistoryWriter
from keras_deconvnet.training.callbacks import StopOnNaN
from keras_deconvnet.training.callbacks import TrainingDivergedError


def tiny_model():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1, name="dense")(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="mse")
    return model


def test_stop_on_nan_names_the_batch_and_checkpoint():
    callback = StopOnNaN("/runs/x/checkpoint")
    callback.on_train_batch_end(0, {"loss": 1.0})
    with pytest.raises(TrainingDivergedError, match="batch 3.*/runs/x"):
        callback.on_train_batch_end(3, {"loss": float("nan")})
    with pytest.raises(TrainingDivergedError, match="inf"):
        callback.on_train_batch_end(1, {"loss": np.float32("inf")})


def test_history_writer_replaces_epochs_after_a_resume(tmp_path):
    path = str(tmp_path / "history.json")
    model = tiny_model()
    writer = HistoryWriter(path)
    writer.set_model(model)
    for epoch in range(3):
        writer.on_epoch_end(epoch, {"loss": 10.0 - epoch})
    # A restarted run resumes at epoch index 1: epochs 2 and 3 are redone.
    resumed = HistoryWriter(path)
    resumed.set_model(model)
    resumed.on_epoch_end(1, {"loss": 4.0})
    with open(path) as file:
        epochs = json.load(file)["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert [e["loss"] for e in epochs] == [10.0, 4.0]
    assert epochs[0]["learning_rate"] == pytest.approx(0.01)


def test_step_checkpoint_saves_every_n_steps_and_restores(tmp_path, rng):
    directory = str(tmp_path / "checkpoint")
    model = tiny_model()
    x = rng.normal(size=(20, 3)).astype("float32")
    y = rng.normal(size=(20, 1)).astype("float32")

    class Kill(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.params and batch == 3 and self.model._epoch == 1:
                raise KeyboardInterrupt

    class EpochTracker(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.model._epoch = epoch

    checkpoint = checkpoints.StepCheckpoint(directory, save_every=2,
                                            steps_per_epoch=5)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=4, epochs=3, verbose=0, shuffle=False,
                  callbacks=[EpochTracker(), checkpoint, Kill()])
    # Epoch 1 ended (state epoch 1, step 0), then steps 2 and 4 of epoch 2
    # were saved; the kill came after step 4 (batch index 3).
    state = checkpoints.read_training_state(directory)
    assert state == {"epoch": 1, "step": 4, "iterations": 9}
    saved = [v.numpy() for v in model.weights]

    fresh = tiny_model()
    restored = checkpoints.restore(fresh, directory)
    assert restored == state
    assert int(fresh.optimizer.iterations.numpy()) == 9
    for value, variable in zip(saved, fresh.weights):
        np.testing.assert_allclose(variable.numpy(), value)
    # Momentum is restored too.
    assert any(np.abs(v.numpy()).sum() > 0
               for v in fresh.optimizer.variables[2:])
    assert not any(name.startswith("partial") for name in os.listdir(directory))


def test_checkpoint_never_saves_non_finite_weights(tmp_path):
    directory = str(tmp_path / "checkpoint")
    model = tiny_model()
    checkpoint = checkpoints.StepCheckpoint(directory, 1, steps_per_epoch=10)
    checkpoint.set_model(model)
    checkpoint.on_train_batch_end(0)
    assert checkpoints.read_training_state(directory)["step"] == 1
    model.get_layer("dense").kernel.assign(np.full((3, 1), np.nan, "float32"))
    checkpoint.on_train_batch_end(1)
    assert checkpoints.read_training_state(directory)["step"] == 1
    assert checkpoints.restore(tiny_model(), str(tmp_path / "none")) == {
        "epoch": 0, "step": 0, "iterations": 0}


def test_batch_statistics_validation_logs_miou_and_keeps_moving_stats(rng):
    from keras_deconvnet.metrics import ConfusionMatrix
    from keras_deconvnet.training.callbacks import BatchStatisticsValidation

    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(3, 1, name="conv")(inputs)
    outputs = keras.layers.BatchNormalization(name="bn")(x)
    model = keras.Model(inputs, outputs)
    images = (rng.normal(size=(6, 4, 4, 2)) * 4 + 3).astype("float32")
    labels = rng.integers(0, 3, size=(6, 4, 4)).astype("int32")
    labels[0, 0] = 255
    batches = [(images[i:i + 3], labels[i:i + 3]) for i in (0, 3)]
    expected = ConfusionMatrix(3, 255)
    for batch_images, batch_labels in batches:
        scores = keras.ops.convert_to_numpy(model(batch_images, training=True))
        expected.update(batch_labels, scores.argmax(-1))
    before = [v.numpy().copy() for v in model.non_trainable_variables]

    callback = BatchStatisticsValidation(batches, None, 3, 255)
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs["val_miou_batch_statistics"] == pytest.approx(
        expected.mean_iou())
    for value, variable in zip(before, model.non_trainable_variables):
        np.testing.assert_array_equal(variable.numpy(), value)


def test_batch_statistics_validation_logs_inference_loss(rng):
    from keras_deconvnet.training.callbacks import BatchStatisticsValidation
    from keras_deconvnet.training.losses import SegmentationCrossEntropy

    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(3, 1, name="conv")(inputs)
    model = keras.Model(
        inputs, keras.layers.BatchNormalization(name="bn")(x))
    weights = [0.5, 1.0, 2.0]
    model.compile(loss=SegmentationCrossEntropy(255, class_weights=weights))
    images = (rng.normal(size=(6, 4, 4, 2)) * 4 + 3).astype("float32")
    labels = rng.integers(0, 3, size=(6, 4, 4)).astype("int32")
    labels[1, :2] = 255
    batches = [(images[i:i + 3], labels[i:i + 3]) for i in (0, 3)]
    # NumPy reference: weighted cross-entropy of the inference-mode scores
    # over each batch's labelled pixels, averaged over the batches.
    expected = []
    for batch_images, batch_labels in batches:
        scores = keras.ops.convert_to_numpy(
            model(batch_images, training=False)).astype("float64")
        scores -= scores.max(-1, keepdims=True)
        log_p = scores - np.log(np.exp(scores).sum(-1, keepdims=True))
        valid = batch_labels != 255
        safe = np.where(valid, batch_labels, 0)
        pixel = -np.take_along_axis(log_p, safe[..., None], -1)[..., 0]
        pixel *= np.take(weights, safe) * valid
        expected.append(pixel.sum() / valid.sum())

    callback = BatchStatisticsValidation(batches, None, 3, 255,
                                         inference=True)
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs["val_loss"] == pytest.approx(np.mean(expected), rel=1e-5)
    # Without inference mode there is no inference loss to log.
    logs = {}
    callback = BatchStatisticsValidation(batches, None, 3, 255)
    callback.set_model(model)
    callback.on_epoch_end(0, logs)
    assert "val_loss" not in logs and "val_miou_batch_statistics" in logs


def test_batch_statistics_validation_raises_on_out_of_range_labels(rng):
    from keras_deconvnet.training.callbacks import BatchStatisticsValidation

    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))
    images = rng.normal(size=(2, 4, 4, 2)).astype("float32")
    labels = np.zeros((2, 4, 4), "int32")
    labels[1, 2, 2] = 7  # neither a class of 3 nor the ignore label
    callback = BatchStatisticsValidation([(images, labels)], None, 3, 255)
    callback.set_model(model)
    with pytest.raises(ValueError, match=r"Labels \[7\] are outside \[0, 3\)"):
        callback.on_epoch_end(0, {})
