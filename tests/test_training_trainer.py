"""train(): NaN stop, learning on the synthetic data, mixed precision."""

import json
import os

import numpy as np
import pytest

import keras

from tests.conftest import SMALL_WIDTH
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
ON_GPU = bool(tf.config.list_physical_devices("GPU"))


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


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, rng):
    out = str(tmp_path / "run")
    with pytest.raises(TrainingDivergedError, match="loss became nan"):
        train(train_data=in_memory_batches(rng, 8, nan_at=5), num_classes=3,
              ignore_label=255, steps_per_epoch=8, epochs=1, out_dir=out,
              width=SMALL_WIDTH, batch_size=2, checkpoint_every=2,
              schedule="step", verbose=0)
    directory = os.path.join(out, "checkpoint")
    # Saved after steps 2 and 4; batch 6 (index 5) diverged first.
    assert checkpoints.read_training_state(directory)["step"] == 4
    assert not os.path.exists(os.path.join(out, "deconvnet.keras"))
    model = keras_deconvnet_model()
    model.compile(optimizer="sgd")
    checkpoints.restore(model, directory)
    assert all(np.isfinite(v.numpy()).all() for v in model.weights)


def keras_deconvnet_model():
    from keras_deconvnet import DeconvNet

    return DeconvNet(num_classes=3, width=SMALL_WIDTH)


def test_mixed_precision_keeps_scores_and_loss_float32(tmp_path, rng):
    result = train(train_data=in_memory_batches(rng, 2), num_classes=3,
                   ignore_label=255, steps_per_epoch=2, epochs=1,
                   out_dir=str(tmp_path / "mixed"), width=SMALL_WIDTH,
                   batch_size=2, schedule="step", mixed_precision=True,
                   bn_examples=2, verbose=0)
    model = result.model
    # float16 (with loss scaling) on a GPU, bfloat16 on a CPU.
    half = "float16" if ON_GPU else "bfloat16"
    assert model.get_layer("conv1_1").compute_dtype == half
    assert model.get_layer("conv1_1").kernel.dtype == "float32"
    assert model.get_layer("seg_score").compute_dtype == "float32"
    assert model.outputs[0].dtype == "float32"
    assert np.isfinite(result.history[0]["loss"])
    # The global policy is restored afterwards.
    assert keras.mixed_precision.global_policy().name == "float32"
    with open(os.path.join(result.out_dir, "training_summary.json")) as f:
        assert json.load(f)["config"]["precision_policy"] == f"mixed_{half}"


def test_mixed_precision_policy_is_restored_after_an_error(tmp_path, rng):
    with pytest.raises(TrainingDivergedError):
        train(train_data=in_memory_batches(rng, 4, nan_at=1), num_classes=3,
              steps_per_epoch=4, epochs=1, out_dir=str(tmp_path / "run"),
              width=SMALL_WIDTH, batch_size=2, schedule="step",
              mixed_precision=True, verbose=0)
    assert keras.mixed_precision.global_policy().name == "float32"


def test_ignore_label_defaults_to_255_and_other_labels_raise(tmp_path, rng):
    # VOC's 255 is ignored by default, never taken for class C-1.
    result = train(train_data=in_memory_batches(rng, 1, label=255),
                   num_classes=3, steps_per_epoch=1, epochs=1,
                   out_dir=str(tmp_path / "ok"), width=SMALL_WIDTH,
                   batch_size=2, schedule="step", bn_examples=0, verbose=0)
    assert result.history[0]["loss"] > 0
    with open(os.path.join(result.out_dir, "training_summary.json")) as f:
        assert json.load(f)["config"]["ignore_label"] == 255
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Labels must lie in \[0, 3\)[\s\S]*\[7\]"):
        train(train_data=in_memory_batches(rng, 1, label=7), num_classes=3,
              steps_per_epoch=1, epochs=1, out_dir=str(tmp_path / "bad"),
              width=SMALL_WIDTH, batch_size=2, schedule="step",
              bn_examples=0, verbose=0)


def test_caffe_style_folded_batch_norm_init_is_refused(tmp_path, rng):
    model = keras_deconvnet_model()
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            # Caffe conversion: moving statistics 0/1, folded scales.
            layer.gamma.assign(rng.uniform(0.5, 2, layer.gamma.shape))
    path = str(tmp_path / "converted.keras")
    model.save(path)
    arguments = dict(train_data=in_memory_batches(rng, 1), num_classes=3,
                     steps_per_epoch=1, epochs=1, width=SMALL_WIDTH,
                     batch_size=2, schedule="step", bn_examples=0,
                     init=path, verbose=0)
    with pytest.raises(ValueError, match="allow_folded_batch_norm=True"):
        train(out_dir=str(tmp_path / "refused"), **arguments)
    result = train(out_dir=str(tmp_path / "allowed"),
                   allow_folded_batch_norm=True, **arguments)
    assert np.isfinite(result.history[0]["loss"])


def test_resume_with_other_settings_is_refused(tmp_path, rng):
    out = str(tmp_path / "run")
    arguments = dict(num_classes=3, steps_per_epoch=8, epochs=1, out_dir=out,
                     width=SMALL_WIDTH, batch_size=2, checkpoint_every=2,
                     schedule="step", bn_examples=0, verbose=0)
    with pytest.raises(TrainingDivergedError):
        train(train_data=in_memory_batches(rng, 8, nan_at=3), **arguments)
    with open(os.path.join(out, "checkpoint", "run_config.json")) as f:
        assert json.load(f)["learning_rate"] == 0.01
    with pytest.raises(ValueError, match=r"learning_rate: checkpoint 0\.01, "
                       r"now 0\.02.*--resume-anyway"):
        train(train_data=in_memory_batches(rng, 8), learning_rate=0.02,
              **arguments)
    result = train(train_data=in_memory_batches(rng, 8), learning_rate=0.02,
                   resume_anyway=True, **arguments)
    assert result.resumed_from["step"] == 2
    assert result.history[-1]["iterations"] == 8


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="Stage 2 starts from the stage-1"):
        train(stage=2, dataset="synthetic", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="strategy"):
        train(strategy="tpu", dataset="synthetic", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="input_size"):
        train(input_size=100, dataset="synthetic", data_dir=str(tmp_path))


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
