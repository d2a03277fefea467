"""MirroredStrategy on two logical CPUs; MultiWorkerMirroredStrategy with
two local worker processes. Each a short real run of training/train.py in
fresh processes (devices must be configured before TensorFlow starts)."""

import json
import os
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 300


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    from keras_deconvnet.data import write_synthetic_voc

    directory = str(tmp_path_factory.mktemp("synthetic"))
    write_synthetic_voc(directory, num_train=8, num_val=4,
                        image_size=(128, 128), seed=0)
    return directory


def train_command(data_dir, out, *extra):
    return [
        sys.executable, os.path.join(ROOT, "training", "train.py"),
        "--dataset", "synthetic", "--data-dir", data_dir, "--out", out,
        "--crops", "whole", "--width", "0.0625", "--batch-size", "4",
        "--epochs", "1", "--steps-per-epoch", "3", "--schedule", "step",
        "--validation-steps", "1", "--bn-examples", "4", "--quiet", *extra,
    ]


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def read_summary(out):
    with open(os.path.join(out, "training_summary.json")) as file:
        return json.load(file)


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus(synthetic_dir, tmp_path):
    out = str(tmp_path / "mirrored")
    result = subprocess.run(
        train_command(synthetic_dir, out, "--strategy", "mirrored",
                      "--logical-cpus", "2"),
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = read_summary(out)
    assert summary["config"]["replicas"] == 2
    assert summary["config"]["strategy"] == "mirrored"
    with open(os.path.join(out, "history.json")) as file:
        assert json.load(file)["epochs"][0]["iterations"] == 3
    assert os.path.isfile(os.path.join(out, "deconvnet.keras"))


@pytest.mark.slow
def test_multi_worker_with_two_local_processes(synthetic_dir, tmp_path):
    out = str(tmp_path / "multi_worker")
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        environment = dict(os.environ, TF_CONFIG=json.dumps({
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": index},
        }))
        processes.append(subprocess.Popen(
            train_command(synthetic_dir, out, "--strategy", "multi_worker"),
            cwd=ROOT, env=environment, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        ))
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=TIMEOUT))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    summary = read_summary(out)
    assert summary["config"]["replicas"] == 2
    assert summary["config"]["strategy"] == "multi_worker"
    assert os.path.isfile(os.path.join(out, "deconvnet.keras"))
    # Only the chief (worker 0) wrote the run folder.
    assert not os.path.exists(os.path.join(out, "checkpoint"))


def test_multi_worker_without_tf_config_is_a_clear_error(monkeypatch):
    from keras_deconvnet.training.strategies import get_strategy
    from keras_deconvnet.training.strategies import parse_tf_config

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the TF_CONFIG"):
        get_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {}}')
    with pytest.raises(ValueError, match="TF_CONFIG must be JSON"):
        parse_tf_config()
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["a:1"]}, "task": {"type": "worker",
                                                 "index": 3}}))
    with pytest.raises(ValueError, match="outside"):
        parse_tf_config()
    with pytest.raises(ValueError, match="strategy"):
        get_strategy("tpu")
