"""The layers and the network also run on the PyTorch backend, as the
README says (each in a fresh process: the backend is chosen at import)."""

import importlib.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed"
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_with_torch(arguments, timeout=600):
    environment = {**os.environ, "KERAS_BACKEND": "torch",
                   "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=timeout,
    )


def test_deconvnet_predicts_on_torch():
    code = (
        "import keras, numpy as np, keras_deconvnet;"
        "assert keras.backend.backend() == 'torch';"
        "model = keras_deconvnet.DeconvNet(num_classes=2, width=0.0625);"
        "y = model.predict(np.zeros((1, 224, 224, 3), 'float32'), verbose=0);"
        "assert y.shape == (1, 224, 224, 2) and np.isfinite(y).all()"
    )
    result = run_with_torch(["-c", code])
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_layer_tests_pass_on_torch():
    result = run_with_torch([
        "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
        "-m", "not slow",
        "tests/test_max_pooling_with_argmax.py",
        "tests/test_max_unpooling.py",
        "tests/test_winograd_conv.py",
    ])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # TensorFlow-only tests skip there; the rest must really run.
    assert " passed" in result.stdout and "failed" not in result.stdout
