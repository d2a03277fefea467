"""Shared test set-up: quiet TensorFlow, seeded randomness, small sizes."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402

# Small models keep the suite within its time budget on a 2-core CPU.
SMALL_WIDTH = 0.0625


@pytest.fixture(autouse=True, scope="session")
def isolated_model_pointer(tmp_path_factory):
    """Training, conversion and presets record `latest.json` (the model
    `load()` opens) in a temporary folder, never in the checkout."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_DECONVNET_MODELS",
                     str(tmp_path_factory.mktemp("saved_models")))
        yield


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def backend():
    return keras.backend.backend()


requires_tensorflow = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="needs the TensorFlow backend",
)
