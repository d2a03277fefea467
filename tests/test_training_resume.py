"""A run killed with SIGKILL and started again resumes where it was."""

import json
import os
import subprocess
import sys

import pytest

from tests.killed_run import kill_at_first_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS, STEPS = 2, 12


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    from keras_deconvnet.data import write_synthetic_voc

    directory = str(tmp_path_factory.mktemp("synthetic"))
    write_synthetic_voc(directory, num_train=12, num_val=2,
                        image_size=(128, 128), seed=0)
    return directory


def train_command(data_dir, out):
    return [
        sys.executable, os.path.join(ROOT, "training", "train.py"),
        "--dataset", "synthetic", "--data-dir", data_dir, "--out", out,
        "--crops", "whole", "--width", "0.0625", "--batch-size", "2",
        "--epochs", str(EPOCHS), "--steps-per-epoch", str(STEPS),
        "--checkpoint-every", "3", "--schedule", "step",
        "--validation-steps", "1", "--bn-examples", "2", "--quiet",
    ]


@pytest.mark.slow
def test_sigkill_then_same_command_resumes(synthetic_dir, tmp_path):
    out = str(tmp_path / "run")
    command = train_command(synthetic_dir, out)
    state_path = os.path.join(out, "checkpoint", "training_state.json")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    killed_at = kill_at_first_checkpoint(process, state_path, timeout=240)
    assert not os.path.exists(os.path.join(out, "deconvnet.keras"))

    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert (f"Resuming {out}: epoch {killed_at['epoch'] + 1}, step "
            f"{killed_at['step']}") in rerun.stdout
    with open(os.path.join(out, "training_summary.json")) as file:
        summary = json.load(file)
    assert summary["resumed_from"] == killed_at
    with open(os.path.join(out, "history.json")) as file:
        history = json.load(file)["epochs"]
    # The restart ran exactly the steps that were left: none lost beyond
    # the checkpoint, none repeated from zero.
    assert [e["epoch"] for e in history] == list(range(1, EPOCHS + 1))
    assert history[-1]["iterations"] == EPOCHS * STEPS
    assert os.path.isfile(os.path.join(out, "deconvnet.keras"))
    # Finished: the checkpoint is gone, so a third run would not resume.
    assert not os.path.exists(os.path.join(out, "checkpoint"))


class Interrupted(Exception):
    """Stands for a kill: the run stops, only its checkpoint survives."""


@pytest.mark.slow
@pytest.mark.usefixtures("deterministic_ops")
def test_interrupted_run_ends_with_the_uninterrupted_weights(
        synthetic_dir, tmp_path, monkeypatch):
    import numpy as np

    import keras_deconvnet
    from keras_deconvnet.training import checkpoints
    from keras_deconvnet.training.trainer import train

    arguments = dict(
        dataset="synthetic", data_dir=synthetic_dir, crops="whole",
        width=0.0625, batch_size=2, epochs=3, steps_per_epoch=5,
        checkpoint_every=2, learning_rate=0.05, schedule="plateau",
        plateau_patience=1, validation_steps=1, bn_examples=4, verbose=0)
    full = train(out_dir=str(tmp_path / "full"), **arguments)

    original = checkpoints.StepCheckpoint.on_train_batch_end

    def kill_in_the_third_epoch(self, batch, logs=None):
        original(self, batch, logs)
        # Epoch 3 saved its step 2; step 3 is done, then lost.
        if self.epoch == 2 and self.step_offset + batch + 1 == 3:
            raise Interrupted

    monkeypatch.setattr(checkpoints.StepCheckpoint, "on_train_batch_end",
                        kill_in_the_third_epoch)
    out = str(tmp_path / "resumed")
    with pytest.raises(Interrupted):
        train(out_dir=out, **arguments)
    monkeypatch.undo()
    state = checkpoints.read_training_state(os.path.join(out, "checkpoint"))
    assert (state["epoch"], state["step"]) == (2, 2)
    assert state["plateau"]["best"] is not None  # the schedule's counters
    resumed = train(out_dir=out, **arguments)
    assert resumed.resumed_from["step"] == 2

    history = {"full": full.history, "resumed": resumed.history}
    # Epoch 3's training loss is the mean over the steps its last `fit`
    # ran (3 of 5 when resumed); validation is measured on end weights.
    for key in ("val_loss", "val_miou_batch_statistics"):
        assert [e[key] for e in resumed.history] == pytest.approx(
            [e[key] for e in full.history], rel=1e-5), history
    assert [e["loss"] for e in resumed.history[:2]] == pytest.approx(
        [e["loss"] for e in full.history[:2]], rel=1e-6), history
    assert [e["learning_rate"] for e in resumed.history] == [
        e["learning_rate"] for e in full.history], history
    expected = keras_deconvnet.load(full.model_path).get_weights()
    actual = keras_deconvnet.load(resumed.model_path).get_weights()
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        # Same ops on the same data under op determinism: equal up to
        # float32 rounding.
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
