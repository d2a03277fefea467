"""The environment of a test's `KERAS_BACKEND=jax` subprocess.

A JAX process compiles every program it runs with XLA, eager ones
included: building a DeconvNet compiles one random-initializer program
per weight shape (about 30 s of CPU on this 2-core machine at width
0.0625, 6 s once cached). A module's subprocesses share one persistent
compilation cache in a temporary folder: the same program compiles once
per module, each process still runs it. Every test module starts with
an empty cache, so no result depends on an earlier test session.

By default XLA:CPU compiles at LLVM optimization level 0, as in the
test process (`tests/conftest.py`): a test that runs a few steps of
each program spends most of its time compiling. A 6-step `train()` at
width 0.0625 took 25 s of wall time instead of 57 s (level 1: 34 s).
A test that runs many steps keeps XLA's default level: the 45-step
learning run took 120 s at the default, 132 s at level 1 and 188 s at
level 0.
"""

import os

from tests import conftest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def jax_environment(cache_dir, xla_flags="", quick_compile=True, **extra):
    """`os.environ` for a JAX-on-CPU subprocess using `cache_dir`.

    Args:
        cache_dir: the persistent compilation cache's folder.
        xla_flags: more `XLA_FLAGS`, added to the environment's own.
        quick_compile: whether XLA:CPU compiles at optimization level 0.
            False for a run of many steps.
        **extra: more environment variables.
    """
    return {
        **os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": ROOT,
        "JAX_COMPILATION_CACHE_DIR": str(cache_dir),
        # Cache every program, however small or quick to compile: the
        # initializers compile in about a second each.
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
        "XLA_FLAGS": conftest.xla_flags(quick_compile, xla_flags),
        **extra,
    }
