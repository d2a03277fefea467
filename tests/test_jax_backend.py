"""The backend-agnostic parts also pass on JAX, without TensorFlow."""

import importlib.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="jax is not installed"
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_with_jax(arguments, timeout=600):
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_package_imports_without_tensorflow():
    code = (
        "import sys, keras, keras_deconvnet;"
        "assert keras.backend.backend() == 'jax';"
        "model = keras_deconvnet.DeconvNet(num_classes=2, width=0.0625);"
        "import numpy as np;"
        "y = model.predict(np.zeros((1, 224, 224, 3), 'float32'), verbose=0);"
        "assert y.shape == (1, 224, 224, 2);"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'tensorflow'];"
        "assert not loaded, loaded[:5]"
    )
    result = run_with_jax(["-c", code])
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_layer_tests_pass_on_jax():
    result = run_with_jax(
        [
            "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
            "-m", "not slow",
            "tests/test_max_pooling_with_argmax.py",
            "tests/test_max_unpooling.py",
            "tests/test_fcn8s.py",
        ]
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # TensorFlow-only tests skip there; the rest must really run.
    assert " passed" in result.stdout and "failed" not in result.stdout
