"""Class names end to end: train -> save -> load() -> export -> client."""

import os

import numpy as np
import pytest

import keras

import keras_deconvnet
from tests.conftest import SMALL_WIDTH
from tests.conftest import requires_tensorflow

tf = pytest.importorskip("tensorflow")
pytestmark = requires_tensorflow
NAMES = ["sky", "road", "car"]


def batches(rng, count=2, num_classes=3):
    images = rng.uniform(0, 255, (count, 224, 224, 3)).astype("float32")
    labels = rng.integers(0, num_classes, (count, 224, 224)).astype("int32")
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(2).repeat()


@pytest.mark.slow
@pytest.mark.usefixtures("deterministic_ops")
def test_trained_names_reach_load_export_and_the_client(tmp_path, rng,
                                                        monkeypatch):
    pytest.importorskip("tensorflow_serving")
    from keras_deconvnet.export import export_saved_model
    from keras_deconvnet.serving import Client
    from keras_deconvnet.training.trainer import train
    from tests.prediction_service_server import PredictionServiceServer

    models = tmp_path / "saved_models"
    monkeypatch.setenv("KERAS_DECONVNET_MODELS", str(models))
    result = train(train_data=batches(rng), num_classes=3, ignore_label=255,
                   class_names=",".join(NAMES), steps_per_epoch=1, epochs=1,
                   out_dir=str(models / "toy-run"), width=SMALL_WIDTH,
                   batch_size=2, schedule="step", bn_examples=0, verbose=0)
    # A later run that dies (a checkpoint, no model) and a newer FCN file
    # saved by hand: neither becomes the default.
    (models / "dead-run" / "checkpoint").mkdir(parents=True)
    keras_deconvnet.FCN8s(num_classes=5, width=SMALL_WIDTH).save(
        models / "fcn8s.keras")

    loaded = keras_deconvnet.load()
    info = keras_deconvnet.metadata(loaded)
    assert info["class_names"] == NAMES
    assert info["source"] == "training"
    assert info["ignore_label"] == 255
    assert info["training"]["steps_per_epoch"] == 1
    x = rng.uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               result.model.predict(x, verbose=0), atol=1e-5)

    export = export_saved_model(loaded, str(tmp_path / "export" / "toy"))
    with PredictionServiceServer("toy", os.path.dirname(export)) as server:
        for protocol, port in (("grpc", server.grpc_port),
                               ("rest", server.rest_port)):
            with Client("127.0.0.1", port, "toy", protocol=protocol) as client:
                assert client.class_names() == tuple(NAMES)


def test_models_saved_before_metadata_get_defaults(tmp_path):
    inputs = keras.Input((224, 224, 3))
    old = keras.Model(inputs, keras.layers.Conv2D(21, 1)(inputs))
    old.save(tmp_path / "old.keras")
    loaded = keras_deconvnet.load(tmp_path / "old.keras")
    assert keras_deconvnet.class_names_for(loaded)[15] == "person"
    assert keras_deconvnet.metadata(loaded)["ignore_label"] == 255
