"""train(arch="fcn8s"): the same trainer, data, checkpoints and resume."""

import json
import os

import numpy as np
import pytest

import keras

from tests.conftest import SMALL_WIDTH
from keras_deconvnet.training.trainer import default_out_dir
from keras_deconvnet.training.trainer import train

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.data training"
)


@pytest.mark.slow
def test_fcn8s_trains_on_random_crops_and_saves(tmp_path, monkeypatch):
    import keras_deconvnet
    from keras_deconvnet.data import write_synthetic_voc

    monkeypatch.setenv("KERAS_DECONVNET_MODELS", str(tmp_path / "models"))

    data_dir = str(tmp_path / "synthetic")
    write_synthetic_voc(data_dir, num_train=4, num_val=2,
                        image_size=(160, 200), seed=0)
    out = str(tmp_path / "run")
    result = train(arch="fcn8s", dataset="synthetic", data_dir=data_dir,
                   out_dir=out, crops="random", width=SMALL_WIDTH,
                   epochs=1, steps_per_epoch=2, batch_size=2,
                   schedule="plateau", validation_steps=1, bn_examples=2,
                   verbose=0)
    assert result.model_path == os.path.join(out, "fcn8s.keras")
    assert os.path.isfile(result.model_path)
    assert not os.path.exists(os.path.join(out, "deconvnet.keras"))
    with open(os.path.join(out, "training_summary.json")) as file:
        summary = json.load(file)
    assert summary["config"]["arch"] == "fcn8s"
    assert summary["config"]["crops"] == "random"
    # No BatchNormalization: inference-mode validation only, no BN pass.
    assert summary["batch_norm"] == {"reestimated_over_examples": 0}
    epoch = result.history[0]
    assert "val_miou_inference" in epoch and np.isfinite(epoch["loss"])
    assert "val_miou_batch_statistics" not in epoch
    loaded = keras_deconvnet.load(result.model_path)
    assert loaded.name == "fcn8s"
    assert keras_deconvnet.metadata(loaded)["class_names"][15] == "person"
    # An FCN-8s never becomes the model load() opens without a path.
    assert not (tmp_path / "models" / "latest.json").exists()


def batches(rng, steps, nan_at=None):
    images = rng.uniform(0, 255, (steps * 2, 224, 224, 3))
    labels = rng.integers(0, 3, (steps * 2, 224, 224))
    if nan_at is not None:
        images[nan_at * 2] = np.nan
    dataset = tf.data.Dataset.from_tensor_slices(
        (images.astype("float32"), labels.astype("int32")))
    return dataset.batch(2).repeat()


@pytest.mark.slow
def test_fcn8s_resumes_from_its_checkpoint(tmp_path, rng):
    out = str(tmp_path / "run")
    options = dict(arch="fcn8s", num_classes=3, ignore_label=255,
                   steps_per_epoch=6, epochs=1, out_dir=out,
                   width=SMALL_WIDTH, batch_size=2, checkpoint_every=2,
                   # FCN-8s has no BN: 0.01 diverges on these noise images.
                   learning_rate=1e-4, schedule="step", bn_examples=0,
                   verbose=0)
    # Reading batch 5 (index 4) fails, a stand-in for a killed run: the
    # checkpoint after step 4 is kept.
    failing = batches(rng, 6, nan_at=4).map(
        lambda images, labels: (
            tf.debugging.check_numerics(images, "interrupted"), labels))
    with pytest.raises(tf.errors.InvalidArgumentError, match="interrupted"):
        train(train_data=failing, **options)
    result = train(train_data=batches(rng, 6), **options)
    assert result.resumed_from["step"] == 4
    assert int(result.model.optimizer.iterations) == 6
    assert os.path.isfile(os.path.join(out, "fcn8s.keras"))


def test_default_out_dir_names_the_arch(tmp_path):
    root = str(tmp_path)
    finished = os.path.join(root, "voc-fcn8s-stage1-20260101-000000")
    os.makedirs(os.path.join(finished, "checkpoint"))
    open(os.path.join(finished, "fcn8s.keras"), "w").close()
    unfinished = os.path.join(root, "voc-fcn8s-stage1-20260102-000000")
    os.makedirs(os.path.join(unfinished, "checkpoint"))
    assert default_out_dir("voc", 1, root, arch="fcn8s") == unfinished
    # DeconvNet runs keep their names and ignore FCN-8s runs.
    fresh = default_out_dir("voc", 1, root)
    assert os.path.basename(fresh).startswith("voc-stage1-")
    with pytest.raises(ValueError, match="arch"):
        train(arch="segnet", dataset="synthetic", data_dir=root)
