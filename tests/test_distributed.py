"""MirroredStrategy on two logical CPUs; MultiWorkerMirroredStrategy with
two local worker processes. Each a short real run of training/train.py in
fresh processes (devices must be configured before TensorFlow starts)."""

import json
import os
import re
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


# A worker whose port another process took between `free_ports` and its
# own bind fails with one of these.
PORT_TAKEN = re.compile(
    r"Address already in use|Failed to bind|Could not start gRPC server")


def run_on_free_ports(start, count, attempts=3, ports=free_ports):
    """`start(ports) -> [(returncode, stderr)]`, retried on fresh ports
    when a port was taken first (the free port can be lost in between)."""
    for _ in range(attempts):
        results = start(ports(count))
        if not any(code and PORT_TAKEN.search(stderr)
                   for code, stderr in results):
            return results
    return results


def test_workers_retry_on_fresh_ports_when_a_port_was_taken():
    offered = iter([[1111, 2222], [3333, 4444]])
    calls = []

    def start(ports):
        calls.append(ports)
        if 1111 in ports:
            return [(1, "E ... Address already in use"), (0, "")]
        return [(0, ""), (0, "")]

    results = run_on_free_ports(start, 2, ports=lambda count: next(offered))
    assert calls == [[1111, 2222], [3333, 4444]]
    assert results == [(0, ""), (0, "")]


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

    def start(ports):
        workers = [f"127.0.0.1:{port}" for port in ports]
        processes, logs = [], []
        for index in range(2):
            environment = dict(os.environ, TF_CONFIG=json.dumps({
                "cluster": {"worker": workers},
                "task": {"type": "worker", "index": index},
            }))
            # Files, not pipes: a worker whose unread pipe fills up
            # blocks, and stalls the other at the next collective.
            logs.append(tmp_path / f"worker{index}-{ports[index]}.log")
            with open(logs[-1], "w") as log:
                processes.append(subprocess.Popen(
                    train_command(synthetic_dir, out, "--strategy",
                                  "multi_worker", "--heartbeat-timeout",
                                  "120"),
                    cwd=ROOT, env=environment, stdout=log,
                    stderr=subprocess.STDOUT, text=True,
                ))
        try:
            for process in processes:
                process.wait(timeout=TIMEOUT)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
        return [(process.returncode, log.read_text())
                for process, log in zip(processes, logs)]

    for returncode, stderr in run_on_free_ports(start, 2):
        assert returncode == 0, stderr[-3000:]
    summary = read_summary(out)
    assert summary["config"]["replicas"] == 2
    assert summary["config"]["strategy"] == "multi_worker"
    assert os.path.isfile(os.path.join(out, "deconvnet.keras"))
    # Only the chief (worker 0) wrote the run folder.
    assert not os.path.exists(os.path.join(out, "checkpoint"))


def test_coordination_service_gets_the_heartbeat_timeout(monkeypatch):
    from tensorflow.python.eager import context

    from keras_deconvnet.training import strategies

    # Configured on a context that runs no cluster; restored afterwards.
    monkeypatch.setattr(context.context(), "_coordination_service_config",
                        None)
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    strategies.configure_coordination_service(90)
    config = context.context().coordination_service
    assert config.heartbeat_timeout_in_ms == 90_000
    assert config.service_leader == "/job:worker/replica:0/task:0"
    assert [(job.name, job.num_tasks)
            for job in config.coordinated_job_list] == [("worker", 2)]

    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": dict(cluster, chief=["127.0.0.1:3"]),
         "task": {"type": "chief", "index": 0}}))
    strategies.configure_coordination_service()
    config = context.context().coordination_service
    assert config.heartbeat_timeout_in_ms == \
        strategies.HEARTBEAT_TIMEOUT * 1000
    assert config.service_leader == "/job:chief/replica:0/task:0"
    assert [(job.name, job.num_tasks)
            for job in config.coordinated_job_list] == [
                ("chief", 1), ("worker", 2)]
    with pytest.raises(ValueError, match="heartbeat_timeout"):
        strategies.configure_coordination_service(0)


def test_heartbeat_flag_default_is_the_library_default():
    from keras_deconvnet.commands import train as train_command
    from keras_deconvnet.training import strategies

    parser = train_command.build_parser()
    assert parser.parse_args([]).heartbeat_timeout is None  # the library's
    assert f"default: {strategies.HEARTBEAT_TIMEOUT};" in \
        " ".join(parser.format_help().split())
    with pytest.raises(SystemExit):
        parser.parse_args(["--heartbeat-timeout", "0"])


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


# One step of a BN-free network (BN normalises each replica's half batch
# by itself, which no loss normalisation can undo), on a batch whose two
# halves hold 2 and 128 labelled pixels: per-replica normalisation would
# weigh each of the 2 pixels 64 times more than Caffe's whole batch does.
MIRRORED_AGAINST_SINGLE = """
import json
import numpy as np
from keras_deconvnet.training.strategies import configure_logical_cpus
configure_logical_cpus(2)
import keras
import tensorflow as tf
tf.config.experimental.enable_op_determinism()
from keras_deconvnet.training.losses import SegmentationCrossEntropy
from keras_deconvnet.training.optimizers import CaffeSGD

rng = np.random.default_rng(0)
images = rng.normal(size=(4, 8, 8, 3)).astype("float32")
labels = rng.integers(0, 3, size=(4, 8, 8)).astype("int32")
labels[:2] = 255
labels[:2, 0, 0] = 1

def run(strategy):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((8, 8, 3)), keras.layers.Conv2D(3, 3, padding="same")])
        model.compile(optimizer=CaffeSGD(0.5, momentum=0.9),
                      loss=SegmentationCrossEntropy(255))
    data = tf.data.Dataset.from_tensor_slices((images, labels))
    history = model.fit(data.batch(4).repeat(), epochs=2, steps_per_epoch=2,
                        verbose=0, shuffle=False)
    return {"loss": history.history["loss"],
            "weights": [w.ravel().tolist() for w in model.get_weights()]}

print(json.dumps({
    "single": run(tf.distribute.get_strategy()),
    "mirrored": run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
}))
"""


def test_mirrored_loss_and_step_equal_single_device():
    import numpy as np

    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_AGAINST_SINGLE], cwd=ROOT,
        capture_output=True, text=True, timeout=TIMEOUT,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    single, mirrored = runs["single"], runs["mirrored"]
    # Float32 sums taken in another order (per replica, then across):
    # equal to about 1e-6 relative; the per-replica normalisation this
    # replaces differed by tens of percent.
    np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=1e-5)
    for got, want in zip(mirrored["weights"], single["weights"]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
