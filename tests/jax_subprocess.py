"""The environment of a test's `KERAS_BACKEND=jax` subprocess.

A JAX process compiles every program it runs with XLA, eager ones
included: building a DeconvNet compiles one random-initializer program
per weight shape (about 30 s of CPU on this 2-core machine at width
0.0625, 6 s once cached). A module's subprocesses share one persistent
compilation cache in a temporary folder: the same program compiles once
per module, each process still runs it. Every test module starts with
an empty cache, so no result depends on an earlier test session.
"""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def jax_environment(cache_dir, **extra):
    """`os.environ` for a JAX-on-CPU subprocess using `cache_dir`."""
    return {
        **os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": ROOT,
        "JAX_COMPILATION_CACHE_DIR": str(cache_dir),
        # Cache every program, however small or quick to compile: the
        # initializers compile in about a second each.
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
        **extra,
    }
