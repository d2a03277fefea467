"""OUT/plots/curves.png and the inference-mode validation mIoU."""

import os
import struct

import pytest

import keras

from keras_deconvnet.training import curves
from keras_deconvnet.training.callbacks import BatchStatisticsValidation
from keras_deconvnet.training.callbacks import HistoryWriter

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    with open(path, "rb") as file:
        header = file.read(24)
    assert header[:8] == PNG_SIGNATURE and header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


def fake_epochs(count):
    return [{"epoch": e, "loss": 2.0 / e, "val_loss": 2.2 / e,
             "mean_iou": 0.1 * e, "val_miou_batch_statistics": 0.09 * e,
             "val_miou_inference": 0.08 * e, "val_mean_iou": 0.07 * e,
             "learning_rate": 0.05 * (1 - e / (count + 1)) ** 0.9}
            for e in range(1, count + 1)]


def test_plot_curves_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = str(tmp_path / "plots" / "curves.png")
    curves.plot_curves(fake_epochs(12), path, title="camvid (deconvnet)")
    assert png_size(path) == (1500, 450)
    assert os.path.getsize(path) > 20_000
    assert not os.path.exists(path + ".tmp")


def test_without_matplotlib_one_line_and_nothing_written(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(curves, "matplotlib_available", lambda: False)
    history = HistoryWriter(str(tmp_path / "history.json"))
    history.epochs = fake_epochs(2)
    callback = curves.LearningCurves(history, str(tmp_path / "c.png"))
    callback.on_epoch_end(0)
    assert capsys.readouterr().out.count("\n") == 1
    assert not os.path.exists(tmp_path / "c.png")


def test_inference_miou_on_the_same_batches(rng):
    from keras_deconvnet.metrics import ConfusionMatrix

    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(3, 1, name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.BatchNormalization()(x))
    images = (rng.normal(size=(6, 4, 4, 2)) * 4 + 3).astype("float32")
    labels = rng.integers(0, 3, size=(6, 4, 4)).astype("int32")
    batches = [(images[i:i + 3], labels[i:i + 3]) for i in (0, 3)]
    expected = {True: ConfusionMatrix(3, 255), False: ConfusionMatrix(3, 255)}
    for batch_images, batch_labels in batches:
        for training in (True, False):
            scores = keras.ops.convert_to_numpy(
                model(batch_images, training=training))
            expected[training].update(batch_labels, scores.argmax(-1))
    for batch_statistics in (True, False):
        callback = BatchStatisticsValidation(
            batches, None, 3, 255, batch_statistics=batch_statistics,
            inference=True)
        callback.set_model(model)
        logs = {}
        callback.on_epoch_end(0, logs)
        assert logs["val_miou_inference"] == pytest.approx(
            expected[False].mean_iou())
        assert ("val_miou_batch_statistics" in logs) == batch_statistics
    # Moving statistics (inference) and batch statistics differ here.
    assert expected[False].mean_iou() != expected[True].mean_iou()


# A real run's curves.png and logged figures are checked in
# tests/test_training_trainer.py::test_synthetic_loss_falls_and_miou_beats_chance.
