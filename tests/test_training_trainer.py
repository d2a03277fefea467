"""train(): NaN stop, resume refusal, label checks, folded-BN refusal,
mixed precision, learning on the synthetic data."""

import json
import os
import shutil
import struct

import numpy as np
import pytest

import keras

from tests.conftest import SMALL_WIDTH
from tests.conftest import op_determinism
import keras_deconvnet
from keras_deconvnet.training import backends
from keras_deconvnet.training import checkpoint_arrays
from keras_deconvnet.training import checkpoints
from keras_deconvnet.training.callbacks import TrainingDivergedError
from keras_deconvnet.training.trainer import default_out_dir
from keras_deconvnet.training.trainer import train

tf = pytest.importorskip("tensorflow")
pytestmark = [
    pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                       reason="tf.data training"),
    pytest.mark.usefixtures("deterministic_ops"),
]


def in_memory_batches(rng, steps, batch_size=2, num_classes=3, nan_at=None,
                      label=None):
    images = rng.uniform(0, 255, (steps * batch_size, 224, 224, 3))
    labels = rng.integers(0, num_classes, (steps * batch_size, 224, 224))
    if nan_at is not None:
        images[nan_at * batch_size] = np.nan
    if label is not None:
        labels[:, :8] = label
    dataset = tf.data.Dataset.from_tensor_slices(
        (images.astype("float32"), labels.astype("int32"))
    )
    return dataset.batch(batch_size).repeat()


def train_arguments(out_dir, steps, **overrides):
    """A tiny in-memory run: 3 classes, batch 2, step schedule, silent."""
    return {**dict(num_classes=3, steps_per_epoch=steps, epochs=1,
                   out_dir=str(out_dir), width=SMALL_WIDTH, batch_size=2,
                   schedule="step", bn_examples=0, verbose=0), **overrides}


RESUMABLE = dict(checkpoint_every=2)

# Each train() traces and compiles its step (most of its cost on a CPU), so
# the module-scoped runs below are shared by the tests that only read them;
# refusals and bad labels fail before any step is compiled.


@pytest.fixture(scope="module")
def diverged_run(tmp_path_factory):
    """A run whose batch 6 (index 5) is NaN, checkpointing every 2 steps;
    its labels hold stripes of 255 and `ignore_label` is not given."""
    out = tmp_path_factory.mktemp("diverged") / "run"
    rng = np.random.default_rng(1234)
    with op_determinism(), pytest.raises(TrainingDivergedError) as error:
        train(train_data=in_memory_batches(rng, 8, nan_at=5, label=255),
              **train_arguments(out, 8, **RESUMABLE))
    return str(out), str(error.value)


def copy_of_checkpoint(run, tmp_path):
    out = str(tmp_path / "run")
    shutil.copytree(os.path.join(run, "checkpoint"),
                    os.path.join(out, "checkpoint"))
    return out


@pytest.fixture(scope="module")
def resumed_run(diverged_run, tmp_path_factory):
    """The diverged run resumed (a copy) at learning rate 0.02 with
    `resume_anyway`, on clean batches still holding 255 stripes, with
    tile settings to store in the model."""
    out = copy_of_checkpoint(diverged_run[0],
                             tmp_path_factory.mktemp("resumed"))
    rng = np.random.default_rng(1234)
    with op_determinism():
        return train(train_data=in_memory_batches(rng, 8, label=255),
                     learning_rate=0.02, resume_anyway=True,
                     tile_scale=[0.5, 0.75], tile_overlap=0.5,
                     **train_arguments(out, 8, **RESUMABLE))


@pytest.fixture(scope="module")
def folded_init(tmp_path_factory):
    """A saved DeconvNet with Caffe-style folded BN: moving statistics
    0/1, trained (non-initial) scales."""
    rng = np.random.default_rng(1234)
    model = keras_deconvnet_model()
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.gamma.assign(rng.uniform(0.5, 2, layer.gamma.shape))
    path = str(tmp_path_factory.mktemp("folded") / "converted.keras")
    model.save(path)
    return path


@pytest.fixture(scope="module")
def mixed_precision_run(folded_init, tmp_path_factory):
    """Two mixed-precision steps (BN re-estimated over 2 crops), started
    from the folded-BN model with `allow_folded_batch_norm=True`."""
    out = tmp_path_factory.mktemp("mixed") / "run"
    rng = np.random.default_rng(1234)
    with op_determinism():
        return train(train_data=in_memory_batches(rng, 2), ignore_label=255,
                     mixed_precision=True, init=folded_init,
                     allow_folded_batch_norm=True,
                     **train_arguments(out, 2, bn_examples=2))


def test_nan_loss_stops_and_keeps_last_good_checkpoint(diverged_run):
    out, message = diverged_run
    assert "loss became nan" in message
    directory = os.path.join(out, "checkpoint")
    # Saved after steps 2 and 4; batch 6 (index 5) diverged first.
    assert checkpoints.read_training_state(directory)["step"] == 4
    assert not os.path.exists(os.path.join(out, "deconvnet.keras"))
    model = keras_deconvnet_model()
    checkpoint_arrays.load_arrays(
        model, os.path.join(directory, checkpoints.ARRAYS_FILE),
        optimizer_state=False)
    assert all(np.isfinite(v.numpy()).all() for v in model.weights)


def keras_deconvnet_model():
    from keras_deconvnet import DeconvNet

    return DeconvNet(num_classes=3, width=SMALL_WIDTH)


def test_mixed_precision_keeps_scores_and_loss_float32(mixed_precision_run):
    result = mixed_precision_run
    model = result.model
    # bfloat16 on a CPU and on GPUs from Ampere on.
    half = backends.precision_policy(True).split("_")[1]
    assert model.get_layer("conv1_1").compute_dtype == half
    assert model.get_layer("conv1_1").kernel.dtype == "float32"
    assert model.get_layer("seg_score").compute_dtype == "float32"
    assert model.outputs[0].dtype == "float32"
    assert np.isfinite(result.history[0]["loss"])
    # The global policy is restored afterwards.
    assert keras.mixed_precision.global_policy().name == "float32"
    with open(os.path.join(result.out_dir, "training_summary.json")) as f:
        summary = json.load(f)
    assert summary["config"]["precision_policy"] == f"mixed_{half}"
    assert summary["batch_norm"]["reestimated_over_examples"] == 2


def test_mixed_precision_policy_is_restored_after_an_error(tmp_path, rng,
                                                           monkeypatch):
    policies = []
    set_policy = keras.mixed_precision.set_global_policy

    def recording(policy):
        policies.append(str(getattr(policy, "name", policy)))
        set_policy(policy)

    monkeypatch.setattr(keras.mixed_precision, "set_global_policy",
                        recording)
    # A label out of range fails on the first batch, under the mixed policy.
    with pytest.raises(tf.errors.InvalidArgumentError, match="Labels must"):
        train(train_data=in_memory_batches(rng, 1, label=7),
              mixed_precision=True, **train_arguments(tmp_path / "run", 1))
    half = backends.precision_policy(True).split("_")[1]
    assert policies == [f"mixed_{half}", "float32"]
    assert keras.mixed_precision.global_policy().name == "float32"


def test_ignore_label_defaults_to_255_and_other_labels_raise(resumed_run,
                                                             tmp_path, rng):
    # VOC's 255 is ignored by default, never taken for class C-1: the
    # shared runs' labels hold 255 and pass no `ignore_label`.
    result = resumed_run
    assert result.history[-1]["loss"] > 0
    with open(os.path.join(result.out_dir, "training_summary.json")) as f:
        assert json.load(f)["config"]["ignore_label"] == 255
    # Found on the first batch, before a model is built.
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Labels must lie in \[0, 3\)[\s\S]*\[7\]"):
        train(train_data=in_memory_batches(rng, 1, label=7),
              **train_arguments(tmp_path / "bad", 1))


def test_caffe_style_folded_batch_norm_init_is_refused(
        folded_init, mixed_precision_run, tmp_path, rng):
    with pytest.raises(ValueError, match="allow_folded_batch_norm=True"):
        train(train_data=in_memory_batches(rng, 1), init=folded_init,
              **train_arguments(tmp_path / "refused", 1))
    # With the flag, it trains (the mixed-precision run started from it).
    result = mixed_precision_run
    with open(os.path.join(result.out_dir, "training_summary.json")) as f:
        config = json.load(f)["config"]
    assert (config["init"], config["allow_folded_batch_norm"]) == (
        folded_init, True)
    assert np.isfinite(result.history[0]["loss"])


def test_resume_with_other_settings_is_refused(diverged_run, resumed_run,
                                               tmp_path, rng):
    out = copy_of_checkpoint(diverged_run[0], tmp_path)
    with open(os.path.join(out, "checkpoint", "run_config.json")) as f:
        assert json.load(f)["learning_rate"] == 0.01
    with pytest.raises(ValueError, match=r"learning_rate: checkpoint 0\.01, "
                       r"now 0\.02.*--resume-anyway") as refusal:
        train(train_data=in_memory_batches(rng, 8, label=255),
              learning_rate=0.02, tile_scale=0.75,
              **train_arguments(out, 8, **RESUMABLE))
    # Tile settings only go into the saved model: never a reason to refuse.
    assert "tile" not in str(refusal.value)
    # Refused before anything was written: the checkpoint is as it was.
    assert checkpoints.read_training_state(
        os.path.join(out, "checkpoint"))["step"] == 4
    # With `resume_anyway` (a copy of the same checkpoint), it goes on
    # from step 4 to 8 at the new rate.
    result = resumed_run
    assert result.resumed_from["step"] == 4
    assert result.history[-1]["iterations"] == 8
    assert result.history[-1]["learning_rate"] == pytest.approx(0.02)
    # The resumed run's tile settings are in the model it saved.
    stored = keras_deconvnet.metadata(keras_deconvnet.load(result.model_path))
    assert (stored["tile_scale"], stored["tile_overlap"]) == ([0.5, 0.75], 0.5)


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="Stage 2 starts from the stage-1"):
        train(stage=2, dataset="synthetic", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="strategy"):
        train(strategy="tpu", dataset="synthetic", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="input_size"):
        train(input_size=100, dataset="synthetic", data_dir=str(tmp_path))
    # Refused before training, not when the finished model is saved.
    with pytest.raises(ValueError, match="tile_scale"):
        train(tile_scale=[0.5, 0], dataset="synthetic",
              data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="tile_overlap"):
        train(tile_overlap=1.0, dataset="synthetic", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"class_weight_power=0\b"):
        train(class_weighting=True, class_weight_power=0,
              dataset="synthetic", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="pass class_weighting=True"):
        train(class_weight_power=0.5, dataset="synthetic",
              data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="pooling_jit_compile='on'"):
        train(pooling_jit_compile="on", dataset="synthetic",
              data_dir=str(tmp_path))


def test_default_out_dir_resumes_the_newest_unfinished_run(tmp_path):
    root = str(tmp_path)
    finished = os.path.join(root, "voc-stage1-20260101-000000")
    unfinished = os.path.join(root, "voc-stage1-20260102-000000")
    os.makedirs(os.path.join(finished))
    open(os.path.join(finished, "deconvnet.keras"), "w").close()
    os.makedirs(os.path.join(unfinished, "checkpoint"))
    assert default_out_dir("voc", 1, root) == unfinished
    fresh = default_out_dir("voc", 2, root)
    assert os.path.basename(fresh).startswith("voc-stage2-")


def test_folder_runs_are_named_after_their_data_folder():
    from keras_deconvnet.training.trainer import run_name

    folder = dict(dataset="folder", data_dir="data/camvid/", image_dir=None)
    assert run_name(folder) == "folder-camvid"
    assert run_name(dict(folder, data_dir=None, image_dir="x/images")) == (
        "folder-images")
    assert run_name(dict(dataset="voc", data_dir="VOC2012")) == "voc"


@pytest.mark.slow
def test_synthetic_loss_falls_and_miou_beats_chance(tmp_path):
    from keras_deconvnet import data
    from keras_deconvnet.evaluation import evaluate
    from keras_deconvnet.metrics import ConfusionMatrix

    data_dir = str(tmp_path / "synthetic")
    data.write_synthetic_voc(data_dir, num_train=24, num_val=8,
                             image_size=(160, 160), seed=0)
    # Under op determinism these settings gave mIoU 0.219 (chance 0.113),
    # as did learning rates 0.1 (0.221) and 0.03 with 60 steps (0.210):
    # 0.05 sits in the middle of a range that learns. Width 0.0625 (4
    # channels in block 1) learned the classes less reliably.
    result = train(dataset="synthetic", data_dir=data_dir,
                   out_dir=str(tmp_path / "run"), crops="whole",
                   width=0.125, epochs=3, steps_per_epoch=15,
                   batch_size=4, learning_rate=0.05, schedule="plateau",
                   validation_steps=1, bn_examples=64, verbose=0)
    # Printed with every failure: a training collapse (loss flat) reads
    # differently from a BN collapse (batch statistics fine, inference
    # mode not).
    figures = {"history": result.history, "batch_norm": result.batch_norm}
    losses = [epoch["loss"] for epoch in result.history]
    # The plateau schedule watches validation mIoU with batch statistics.
    assert all("val_miou_batch_statistics" in e for e in result.history)
    assert losses[-1] < 0.6 * losses[0], figures

    source = data.load_source("synthetic", data_dir, "val")
    summary = evaluate(result.model, data.evaluation_examples(source), 21,
                       255, progress=False)
    # Chance: the best constant prediction (the most frequent class
    # everywhere) scores IoU = its frequency on one class, 0 elsewhere.
    constant = ConfusionMatrix(21, 255)
    for _, label in data.evaluation_examples(source):
        constant.update(label, np.zeros_like(label))
    chance = constant.mean_iou()
    figures.update(miou=summary["miou"], chance=chance)
    assert summary["miou"] > 1.5 * chance, figures
    assert summary["pixel_accuracy"] > constant.pixel_accuracy() + 0.05, (
        figures)
    # Inference mode is right after the BN re-estimation.
    batch_norm = result.batch_norm
    assert batch_norm["pixel_accuracy_inference_after"] >= (
        batch_norm["pixel_accuracy_batch_statistics"] - 0.05), figures
    assert os.path.isfile(result.model_path)
    # The run's learning curves (training/curves.py; the plotting itself
    # is tested in tests/test_training_curves.py): every logged figure
    # finite, the picture written at each epoch end.
    for entry in result.history:
        for key in ("loss", "val_loss", "mean_iou",
                    "val_miou_batch_statistics", "val_miou_inference",
                    "learning_rate"):
            assert np.isfinite(entry[key]), (key, figures)
    assert [e["epoch"] for e in result.history] == [1, 2, 3], figures
    curves_png = os.path.join(result.out_dir, "plots", "curves.png")
    with open(curves_png, "rb") as file:
        header = file.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", curves_png
    assert struct.unpack(">II", header[16:24]) == (1500, 450)
