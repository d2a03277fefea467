"""train(optimizer=, schedule="poly"), XLA pooling in training, and a
--crops random run of train.py."""

import json
import os

import numpy as np
import pytest

import keras

from tests.conftest import SMALL_WIDTH
from keras_deconvnet.layers import MaxPoolingWithArgmax2D
from keras_deconvnet.layers import MaxUnpooling2D
from keras_deconvnet.layers import window_utils
from keras_deconvnet.training.backends import POOLING_JIT_MIN_STEPS
from keras_deconvnet.training.backends import default_pooling_jit_compile
from keras_deconvnet.training.losses import median_frequency_weights
from keras_deconvnet.training.optimizers import CaffeSGD
from keras_deconvnet.training.optimizers import KernelDecayAdamW
from keras_deconvnet.training.optimizers import training_optimizer
from keras_deconvnet.training.schedules import poly_schedule

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.data training"
)


def test_poly_schedule_starts_at_base_and_ends_at_zero():
    schedule = poly_schedule(0.05, total_steps=200)
    values = [float(schedule(step)) for step in (0, 100, 200, 300)]
    assert values[0] == pytest.approx(0.05)
    assert values[1] == pytest.approx(0.05 * 0.5 ** 0.9, rel=1e-5)
    assert values[2] == values[3] == 0.0
    with pytest.raises(ValueError, match="total_steps"):
        poly_schedule(0.05, total_steps=0)


def test_adamw_decays_kernels_only():
    inputs = keras.Input((2, 2, 3))
    x = keras.layers.Conv2D(4, 1, name="conv")(inputs)
    outputs = keras.layers.BatchNormalization(name="conv_bn")(x)
    model = keras.Model(inputs, outputs)
    for variable in model.trainable_variables:
        variable.assign(np.ones(variable.shape, "float32"))
    optimizer = KernelDecayAdamW(0.1, weight_decay=0.5)
    zeros = [np.zeros(v.shape, "float32") for v in model.trainable_variables]
    optimizer.apply_gradients(zip(zeros, model.trainable_variables))
    after = {v.path: float(np.asarray(v).mean())
             for v in model.trainable_variables}
    # Zero gradients: only the decoupled decay moves weights, 1 - lr * wd.
    assert after["conv/kernel"] == pytest.approx(0.95)
    for name in ("conv/bias", "conv_bn/gamma", "conv_bn/beta"):
        assert after[name] == pytest.approx(1.0), name
    restored = KernelDecayAdamW.from_config(optimizer.get_config())
    assert restored.weight_decay == pytest.approx(0.5)
    options = dict(momentum=0.9, weight_decay=5e-4,
                   bias_learning_rate_multiplier=2.0)
    assert isinstance(training_optimizer("sgd", 0.01, **options), CaffeSGD)
    with pytest.raises(ValueError, match="optimizer"):
        training_optimizer("rmsprop", 0.01, **options)


def test_pooling_xla_in_training_needs_a_long_enough_run():
    steps = POOLING_JIT_MIN_STEPS
    assert default_pooling_jit_compile(None, False, "default", steps) is True
    assert default_pooling_jit_compile(None, False, "default",
                                       steps - 1) is False
    # Whole-step XLA, or tf.distribute: no clusters of their own.
    assert default_pooling_jit_compile(None, True, "default", 10**6) is False
    assert default_pooling_jit_compile(None, False, "mirrored",
                                       10**6) is False
    assert default_pooling_jit_compile(True, False, "default", 1) is True
    assert default_pooling_jit_compile(False, False, "default",
                                       10**6) is False
    with pytest.raises(ValueError, match="strategy='default'"):
        default_pooling_jit_compile(True, False, "multi_worker", 10**6)


@pytest.mark.slow
def test_optimizer_and_poly_schedule_reach_the_model(tmp_path, rng,
                                                     monkeypatch):
    from keras_deconvnet.training.trainer import train

    # The optimizer's slots exist before the first step is traced, so the
    # step is traced once, not twice (once to create the variables).
    traces = []
    train_step = keras.Model.train_step

    def counted_train_step(self, data):
        traces.append(self.name)
        return train_step(self, data)

    monkeypatch.setattr(keras.Model, "train_step", counted_train_step)

    images = rng.uniform(0, 255, (4, 224, 224, 3)).astype("float32")
    labels = rng.integers(0, 3, (4, 224, 224)).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((images, labels))
    result = train(train_data=data.batch(2).repeat(), num_classes=3,
                   ignore_label=255, steps_per_epoch=2, epochs=2,
                   out_dir=str(tmp_path / "adam"), width=SMALL_WIDTH,
                   batch_size=2, optimizer="adam", learning_rate=0.001,
                   schedule="poly", bn_examples=0, verbose=0,
                   class_weighting=True, class_weight_power=0.5,
                   pooling_jit_compile=True)  # default: off for 4 steps
    optimizer = result.model.optimizer
    assert isinstance(optimizer, KernelDecayAdamW)
    schedule = optimizer._learning_rate
    assert schedule.decay_steps == 4  # epochs x steps per epoch
    assert float(schedule(0)) == pytest.approx(0.001)
    assert float(schedule(4)) == 0.0
    assert int(optimizer.iterations) == 4
    assert float(optimizer.learning_rate) == 0.0  # the end of the budget
    with open(os.path.join(result.out_dir, "training_summary.json")) as f:
        config = json.load(f)["config"]
    assert (config["optimizer"], config["schedule"]) == ("adam", "poly")
    # The step ran with the (un)pooling as XLA clusters; the saved model's
    # layers are back at "auto" (XLA in predict, none in exports).
    assert config["pooling_jit_compile"] is True
    pooling = [layer for layer in result.model.layers
               if isinstance(layer, (MaxPoolingWithArgmax2D, MaxUnpooling2D))]
    assert pooling and all(layer in window_utils._compiled_functions
                           and layer.jit_compile == "auto"
                           for layer in pooling)
    assert len(traces) == 1, traces
    # The square roots of the median-frequency weights of the 4 training
    # label maps (2 steps of 2) reached the loss and the summary.
    expected = np.sqrt(median_frequency_weights(labels, 3, 255))
    np.testing.assert_allclose(result.model.loss.class_weights, expected)
    np.testing.assert_allclose(config["class_weights"], expected)
    with pytest.raises(ValueError, match="optimizer"):
        train(train_data=data, num_classes=3, steps_per_epoch=1,
              optimizer="rmsprop")
    with pytest.raises(ValueError, match="scale_range"):
        train(train_data=data, num_classes=3, steps_per_epoch=1,
              scale_range=(1.0, 0.5))


@pytest.mark.slow
def test_train_script_random_crops_from_a_config(tmp_path):
    from keras_deconvnet.data import write_synthetic_voc
    from tests.test_train_config import train_script

    data_dir = str(tmp_path / "synthetic")
    write_synthetic_voc(data_dir, num_train=4, num_val=2,
                        image_size=(160, 200), seed=0)
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({
        "dataset": "synthetic", "crops": "random", "scale_range": [0.5, 1.5],
        "width": SMALL_WIDTH, "batch_size": 2, "epochs": 1,
        "steps_per_epoch": 2, "schedule": "poly", "validation_steps": 1,
        "bn_examples": 0, "quiet": True}))
    out = str(tmp_path / "run")
    assert train_script.main(["--config", str(config), "--data-dir",
                              data_dir, "--out", out]) == 0
    with open(os.path.join(out, "training_summary.json")) as file:
        summary = json.load(file)["config"]
    assert summary["crops"] == "random"
    assert summary["scale_range"] == [0.5, 1.5]
    assert summary["steps_per_epoch"] == 2
    assert summary["pooling_jit_compile"] is False  # 2 steps: not repaid
    assert os.path.isfile(os.path.join(out, "deconvnet.keras"))
