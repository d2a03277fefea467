"""A run killed with SIGKILL and started again resumes where it was."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

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
    deadline = time.time() + 240
    try:
        # Kill as soon as a checkpoint inside the first epoch exists.
        while time.time() < deadline and process.poll() is None:
            if os.path.isfile(state_path):
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stdout.read()[-3000:]
        assert os.path.isfile(state_path), "no checkpoint within 240 s"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    with open(state_path) as file:
        killed_at = json.load(file)
    assert killed_at["iterations"] > 0
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
