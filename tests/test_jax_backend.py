"""The backend-agnostic parts also pass on JAX, without TensorFlow.

Both subprocesses share one JAX compilation cache
(`tests/jax_subprocess.py`).
"""

import importlib.util
import subprocess
import sys

import pytest

from tests.jax_subprocess import ROOT
from tests.jax_subprocess import jax_environment

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="jax is not installed"
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("jax_compilation_cache"))


def run_with_jax(arguments, cache_dir, timeout=600):
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=jax_environment(cache_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_package_imports_without_tensorflow(cache_dir):
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
    result = run_with_jax(["-c", code], cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_layer_tests_pass_on_jax(cache_dir):
    result = run_with_jax(
        [
            "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
            "-m", "not slow",
            "tests/test_max_pooling_with_argmax.py",
            "tests/test_max_unpooling.py",
            "tests/test_full_window_conv.py",
            "tests/test_winograd_conv.py",
            "tests/test_fcn8s.py",
        ],
        cache_dir,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # TensorFlow-only tests skip there; the rest must really run.
    assert " passed" in result.stdout and "failed" not in result.stdout
