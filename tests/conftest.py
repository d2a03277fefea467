"""Shared test set-up: quiet TensorFlow, seeded randomness, small sizes."""

import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# XLA compiles at LLVM optimization level 0 in the tests: they run each
# program a few times, so compiling is most of their XLA time (the
# pooling clusters of every new model's `predict`, the JAX steps). The
# programs compute the same functions, more slowly. Measured alone on
# the AMX Xeon: tests/test_weights.py with test_deconvnet.py 108 -> 90 s,
# the segmenter, segment, evaluate and fast-path modules 112 -> 100 s;
# the demo test, which runs more steps, 130 -> 142 s (one run each). A
# JAX run of many steps opts out (`tests/jax_subprocess.py`).
QUICK_COMPILE_XLA_FLAG = "--xla_backend_optimization_level=0"


def xla_flags(quick_compile, extra=""):
    """`XLA_FLAGS` of this process, with or without quick compiling,
    followed by the `extra` flags."""
    flags = [flag for flag in os.environ.get("XLA_FLAGS", "").split()
             if flag != QUICK_COMPILE_XLA_FLAG]
    if quick_compile:
        flags.append(QUICK_COMPILE_XLA_FLAG)
    return " ".join(flags + extra.split())


os.environ["XLA_FLAGS"] = xla_flags(quick_compile=True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402

# Small models keep the suite within its time budget on a 2-core CPU.
SMALL_WIDTH = 0.0625


# The longest test modules, longest first, by their summed test time on a
# 2-core AMX Xeon (seconds): JAX training 325, resume 191, demo 165,
# trainer 146, distributed 83, train script 74. `make test` runs two
# xdist workers that take whole modules in collection order
# (`--dist loadfile --no-loadscope-reorder`; xdist's own reordering puts
# modules with many tests first, so these few-test ones came last and one
# worker ran them alone). Longest first keeps both workers busy to the
# end.
LONGEST_MODULES_FIRST = (
    "test_jax_training.py",
    "test_training_resume.py",
    "test_demo_command.py",
    "test_training_trainer.py",
    "test_distributed.py",
    "test_train_script.py",
)


def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = os.path.basename(str(item.fspath))
        if name in LONGEST_MODULES_FIRST:
            return LONGEST_MODULES_FIRST.index(name)
        return len(LONGEST_MODULES_FIRST)

    items.sort(key=rank)  # stable: each module keeps its own order


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


@contextlib.contextmanager
def op_determinism():
    """TensorFlow op determinism for a block: the same numbers on every
    run and thread count (oneDNN included), so a test that learns once
    learns every time. For module-scoped training fixtures; tests use the
    `deterministic_ops` fixture."""
    tf = pytest.importorskip("tensorflow")
    # The public API has no way back; the other tests of this process
    # run as before.
    from tensorflow.python.framework import config as framework_config

    was_enabled = framework_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was_enabled:
            framework_config.disable_op_determinism()


@pytest.fixture
def deterministic_ops():
    """`op_determinism` for a training test."""
    with op_determinism():
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
