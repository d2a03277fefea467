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
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.data training"
)


def in_memory_batches(rng, steps, batch_size=2, num_classes=3, nan_at=None):
    images = rng.uniform(0, 255, (steps * batch_size, 224, 224, 3))
    labels = rng.integers(0, num_classes, (steps * batch_size, 224, 224))
    if nan_at is not None:
        images[nan_at * batch_size] = np.nan
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
    assert model.get_layer("conv1_1").compute_dtype == "bfloat16"
    assert model.get_layer("conv1_1").kernel.dtype == "float32"
    assert model.get_layer("seg_score").compute_dtype == "float32"
    assert model.outputs[0].dtype == "float32"
    assert np.isfinite(result.history[0]["loss"])
    # The global policy is restored afterwards.
    assert keras.mixed_precision.global_policy().name == "float32"
    with open(os.path.join(result.out_dir, "training_summary.json")) as f:
        assert json.load(f)["config"]["precision_policy"] == "mixed_bfloat16"


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


@pytest.mark.slow
def test_synthetic_loss_falls_and_miou_beats_chance(tmp_path):
    from keras_deconvnet import data
    from keras_deconvnet.evaluation import evaluate
    from keras_deconvnet.metrics import ConfusionMatrix

    data_dir = str(tmp_path / "synthetic")
    data.write_synthetic_voc(data_dir, num_train=24, num_val=8,
                             image_size=(160, 160), seed=0)
    result = train(dataset="synthetic", data_dir=data_dir,
                   out_dir=str(tmp_path / "run"), crops="whole",
                   # 0.0625 (4 channels in block 1) sometimes still
                   # predicts only background after 45 steps; 0.125 costs
                   # about the same here and learns the classes.
                   width=0.125, epochs=3, steps_per_epoch=15,
                   batch_size=4, learning_rate=0.1, schedule="plateau",
                   validation_steps=1, bn_examples=64, verbose=0)
    losses = [epoch["loss"] for epoch in result.history]
    # The plateau schedule watches validation mIoU with batch statistics.
    assert all("val_miou_batch_statistics" in e for e in result.history)
    assert losses[-1] < 0.6 * losses[0], losses

    source = data.load_source("synthetic", data_dir, "val")
    summary = evaluate(result.model, data.evaluation_examples(source), 21,
                       255, progress=False)
    # Chance: the best constant prediction (the most frequent class
    # everywhere) scores IoU = its frequency on one class, 0 elsewhere.
    constant = ConfusionMatrix(21, 255)
    for _, label in data.evaluation_examples(source):
        constant.update(label, np.zeros_like(label))
    chance = constant.mean_iou()
    assert summary["miou"] > 1.3 * chance, (summary["miou"], chance)
    assert summary["pixel_accuracy"] > constant.pixel_accuracy()
    # Inference mode is right after the BN re-estimation.
    batch_norm = result.batch_norm
    assert batch_norm["pixel_accuracy_inference_after"] >= (
        batch_norm["pixel_accuracy_batch_statistics"] - 0.05)
    assert os.path.isfile(result.model_path)
