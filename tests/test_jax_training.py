"""`train()` and the `evaluate` command on JAX.

Each run is a subprocess with `KERAS_BACKEND=jax` (a process has one
backend); tf.data stays the input pipeline there. The learning run
evaluates in its own process, after training. The JAX subprocesses of
this module share one compilation cache (`tests/jax_subprocess.py`).
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.jax_subprocess import ROOT
from tests.jax_subprocess import jax_environment
from tests.killed_run import kill_at_first_checkpoint

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None
    or importlib.util.find_spec("tensorflow") is None,
    reason="needs jax, and tensorflow for tf.data",
)

RUNNER = os.path.join(ROOT, "tests", "jax_training_run.py")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("jax_compilation_cache"))


def environment(backend, cache_dir, **extra):
    if backend == "jax":
        return jax_environment(cache_dir, **extra)
    return {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": ROOT,
            **extra}


def start_run(backend, cache_dir, data_dir, init, out, *settings,
              **extra_env):
    return subprocess.Popen(
        [sys.executable, RUNNER, data_dir, init, out, *settings], cwd=ROOT,
        env=environment(backend, cache_dir, **extra_env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process, timeout=1500):
    """The run's printed result, and its whole standard output."""
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1]), stdout


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    from keras_deconvnet.data import write_synthetic_voc

    directory = str(tmp_path_factory.mktemp("synthetic"))
    write_synthetic_voc(directory, num_train=24, num_val=8,
                        image_size=(160, 160), seed=0)
    return directory


def test_backend_choices_without_jax_start():
    from keras_deconvnet.training import backends

    assert backends.precision_policy(False) == "float32"
    assert backends.default_jit_compile(True) is True
    assert backends.default_jit_compile(False) is False
    assert backends.jax_strategy("default").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="multi_worker"):
        backends.jax_strategy("multi_worker")


@pytest.mark.slow
def test_jax_run_learns_matches_tensorflow_and_evaluates(synthetic_dir,
                                                         cache_dir, tmp_path):
    import keras

    from keras_deconvnet import DeconvNet
    from keras_deconvnet import data
    from keras_deconvnet.metrics import ConfusionMatrix

    # The same initial weights on both backends (their random generators
    # differ), the same seeded tf.data stream, no dropout in DeconvNet:
    # both runs compute the same function up to rounding. The TensorFlow
    # run stops after the first epoch, the part compared (its learning
    # over three epochs is tests/test_training_trainer.py's subject); the
    # JAX run trains three epochs, then evaluates in the same process.
    init = str(tmp_path / "init.keras")
    keras.utils.set_random_seed(0)
    DeconvNet(num_classes=21, width=0.125).save(init)
    model_path = str(tmp_path / "jax" / "deconvnet.keras")
    modes = ("whole", "proposals")
    evaluations = []
    for mode in modes:
        arguments = [
            "--model", model_path, "--dataset", "synthetic",
            "--data-dir", synthetic_dir, "--mode", mode, "--quiet",
            "--num-proposals", "4", "--batch-size", "4",
            "--json", str(tmp_path / f"{mode}.json"),
        ]
        if mode == "proposals":
            arguments += ["--limit", "2"]
        evaluations.append(arguments)
    runs = {
        # 45 steps and two evaluations: running, not compiling, is most
        # of this run's time (tests/jax_subprocess.py).
        "jax": start_run("jax", cache_dir, synthetic_dir, init,
                         str(tmp_path / "jax"), "epochs=3",
                         "steps_per_epoch=15",
                         f"then_evaluate={evaluations!r}",
                         quick_compile=False),
        "tensorflow": start_run("tensorflow", cache_dir, synthetic_dir, init,
                                str(tmp_path / "tensorflow"), "epochs=1",
                                "steps_per_epoch=15", "bn_examples=0"),
    }
    results = {backend: finish(run)[0] for backend, run in runs.items()}
    jax_losses = np.array(results["jax"]["losses"])
    tf_losses = np.array(results["tensorflow"]["losses"])
    assert results["jax"]["backend"] == "jax"
    assert results["tensorflow"]["backend"] == "tensorflow"
    assert jax_losses[-1] < 0.6 * jax_losses[0], jax_losses
    # oneDNN (TensorFlow) and XLA:CPU (JAX) sum the convolutions in other
    # orders; SGD at learning rate 0.1 amplifies those 1e-7 differences
    # step after step, by how much depends on the CPU's kernels. Measured
    # (TensorFlow with op determinism), epoch losses JAX vs TensorFlow:
    # AVX-512 BF16 EPYC 0.5%, 5.5%, 1.3% apart; AVX2 EPYC 7.0%, 12%, 24%
    # apart (1.74/0.97/0.69 against 1.87/1.10/0.90). So: the first epoch,
    # closest to the shared start, within 15%; after it, the JAX curve
    # must fall by 40% or more (above), far from a run that does not
    # learn.
    np.testing.assert_allclose(jax_losses[0], tf_losses[0], rtol=0.15)
    jax_miou = [e["val_miou_batch_statistics"]
                for e in results["jax"]["history"]]
    assert jax_miou[-1] > 1.5 * jax_miou[0], jax_miou
    with open(tmp_path / "jax" / "training_summary.json") as file:
        summary = json.load(file)
    assert summary["backend"] == "jax"
    assert summary["config"]["jit_compile"] is True

    source = data.load_source("synthetic", synthetic_dir, "val")
    constant = ConfusionMatrix(21, 255)
    for _, label in data.evaluation_examples(source):
        constant.update(label, np.zeros_like(label))
    minimums = {"whole": 1.3 * constant.mean_iou(), "proposals": 0.0}
    for mode in modes:
        with open(tmp_path / f"{mode}.json") as file:
            miou = json.load(file)["miou"]
        assert np.isfinite(miou) and miou > minimums[mode], (mode, miou)


@pytest.mark.slow
def test_jax_nan_loss_stops_with_last_good_checkpoint(cache_dir, tmp_path):
    code = (
        "import numpy as np, tensorflow as tf\n"
        "from keras_deconvnet.training.trainer import train\n"
        "from keras_deconvnet.training.callbacks import "
        "TrainingDivergedError\n"
        "rng = np.random.default_rng(0)\n"
        "images = rng.uniform(0, 255, (12, 224, 224, 3)).astype('float32')\n"
        "images[8] = np.nan\n"
        "labels = rng.integers(0, 3, (12, 224, 224)).astype('int32')\n"
        "batches = tf.data.Dataset.from_tensor_slices((images, labels))"
        ".batch(2).repeat()\n"
        "try:\n"
        f"    train(train_data=batches, num_classes=3, ignore_label=255,"
        f" steps_per_epoch=6, epochs=1, out_dir={str(tmp_path)!r},"
        " width=0.0625, batch_size=2, checkpoint_every=2,"
        " schedule='step', verbose=0)\n"
        "except TrainingDivergedError as error:\n"
        "    print('diverged:', error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                            env=environment("jax", cache_dir),
                            capture_output=True, text=True, timeout=900)
    assert "diverged: Training stopped: the loss became nan" in (
        result.stdout), result.stderr[-3000:]
    with open(tmp_path / "checkpoint" / "training_state.json") as file:
        # Saved after steps 2 and 4; batch 5 (the NaN image) diverged.
        assert json.load(file)["step"] == 4


@pytest.mark.slow
def test_jax_sigkill_then_same_command_resumes_data_parallel_mixed_plateau(
        synthetic_dir, cache_dir, tmp_path):
    # One run shows both (each JAX process compiles its steps anew):
    # DataParallel on two XLA host devices (standing in for two
    # accelerators), bfloat16 mixed precision and the plateau schedule,
    # killed with SIGKILL at its first checkpoint, then the same command
    # again resumes there and finishes.
    epochs, steps = 2, 4
    out = str(tmp_path / "run")
    settings = (
        "width=0.0625", f"epochs={epochs}", f"steps_per_epoch={steps}",
        "batch_size=2", "checkpoint_every=2", "strategy='data_parallel'",
        "mixed_precision=True", "schedule='plateau'", "bn_examples=2")
    devices = dict(xla_flags="--xla_force_host_platform_device_count=2")
    state_path = os.path.join(out, "checkpoint", "training_state.json")
    process = start_run("jax", cache_dir, synthetic_dir, "-", out, *settings,
                        **devices)
    killed_at = kill_at_first_checkpoint(process, state_path, timeout=900)
    assert not os.path.exists(os.path.join(out, "deconvnet.keras"))

    result, stdout = finish(start_run("jax", cache_dir, synthetic_dir, "-",
                                      out, *settings, **devices))
    assert (f"Resuming {out}: epoch {killed_at['epoch'] + 1}, step "
            f"{killed_at['step']}") in stdout, stdout[-3000:]
    assert result["kernel_devices"] == 2  # replicated on both devices
    assert result["conv_dtype"] == "bfloat16"
    assert result["output_dtype"] == "float32"
    assert np.isfinite(result["losses"]).all(), result["losses"]
    with open(os.path.join(out, "training_summary.json")) as file:
        summary = json.load(file)
    assert summary["backend"] == "jax"
    assert summary["resumed_from"] == killed_at
    assert summary["config"]["replicas"] == 2
    assert summary["config"]["precision_policy"] == "mixed_bfloat16"
    with open(os.path.join(out, "history.json")) as file:
        history = json.load(file)["epochs"]
    # The restart ran exactly the steps that were left.
    assert [e["epoch"] for e in history] == list(range(1, epochs + 1))
    assert history[-1]["iterations"] == epochs * steps
    assert all("val_miou_batch_statistics" in e for e in history), history
