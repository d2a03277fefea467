"""What training does differently on the TensorFlow and the JAX backends.

The input pipeline is `tf.data` on both (as in keras-hub); the loss,
optimizers, schedules and callbacks are `keras.ops`. What differs is
here: which device family is present (for the precision policy and the
default of whole-step XLA) and multi-device training (`tf.distribute`
on TensorFlow, `keras.distribution.DataParallel` on JAX).
"""

import contextlib
import os

import keras


def backend():
    """The Keras backend name, e.g. `"jax"` or `"tensorflow"`."""
    return keras.backend.backend()


def has_gpu():
    """Whether the backend sees a GPU."""
    if backend() == "jax":
        import jax

        return any(device.platform == "gpu" for device in jax.devices())
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def gpu_compute_capabilities():
    """The compute capability `(major, minor)` of each GPU the backend
    sees (an empty list without GPUs; `None` where it is not reported)."""
    def parse(value):
        if value is None:
            return None
        if isinstance(value, str):  # JAX: "9.0"
            value = value.split(".")
        return tuple(int(part) for part in value)[:2]

    if backend() == "jax":
        import jax

        return [parse(getattr(device, "compute_capability", None))
                for device in jax.devices() if device.platform == "gpu"]
    import tensorflow as tf

    return [parse(tf.config.experimental.get_device_details(device)
                  .get("compute_capability"))
            for device in tf.config.list_physical_devices("GPU")]


# Ampere (compute capability 8.0) and later multiply bfloat16 in their
# tensor cores at float16's rate.
BFLOAT16_MIN_COMPUTE_CAPABILITY = (8, 0)


def precision_policy(enabled, capabilities=None):
    """`"float32"`, or the mixed policy of the hardware at hand.

    `mixed_bfloat16` on CPUs and on GPUs from Ampere on: bfloat16 has
    float32's range, so it needs no loss scaling. `mixed_float16` on
    older GPUs, which have float16 tensor cores only (Keras adds the
    loss-scaling optimizer in `compile`).

    Args:
        enabled: whether mixed precision is asked for.
        capabilities: the GPUs' compute capabilities, for tests; default:
            `gpu_compute_capabilities()`.
    """
    if not enabled:
        return "float32"
    if capabilities is None:
        capabilities = gpu_compute_capabilities()
    if not capabilities or all(
            capability is not None
            and capability >= BFLOAT16_MIN_COMPUTE_CAPABILITY
            for capability in capabilities):
        return "mixed_bfloat16"
    return "mixed_float16"


def default_jit_compile(requested):
    """Whole-step XLA: as requested, else on GPU, and always on JAX.

    On JAX `jit_compile=False` runs the step op by op in Python, many
    times slower than `jax.jit`; on a TensorFlow CPU, XLA compiled a
    width-0.0625 model in 63 s against 22 s without, and its steps were
    no faster, so TensorFlow keeps its graph executor there.
    """
    if requested is not None:
        return bool(requested)
    return backend() == "jax" or has_gpu()


# Planned training steps from which a TensorFlow run puts the (un)pooling
# layers under XLA (`default_pooling_jit_compile`). Measured on a 2-core
# Xeon: the first `fit` step of a width-0.0625 DeconvNet took 26.2 s with
# XLA pooling and 15.5 s without, and its steps 0.36 against 0.41 s; the
# paper network's step is about 10% faster with it (benchmarks/README.md).
# Below about 200 steps the compilation costs more than it saves.
POOLING_JIT_MIN_STEPS = 200


def default_pooling_jit_compile(requested, whole_step_xla, strategy,
                                total_steps):
    """XLA for the (un)pooling layers alone, in a TensorFlow training run.

    Args:
        requested: `True`, `False`, or `None` for the default: on for a
            single-device run (`strategy="default"`) without whole-step
            XLA of at least `POOLING_JIT_MIN_STEPS` planned steps.
        whole_step_xla: whether the whole training step is under XLA
            (the layers then need no clusters of their own).
        strategy: the run's `strategy` name.
        total_steps: the run's planned steps (epochs x steps per epoch;
            the same when the run resumes).

    Raises:
        ValueError: `requested=True` with a `tf.distribute` strategy.
    """
    if requested is None:
        return (not whole_step_xla and strategy == "default"
                and total_steps >= POOLING_JIT_MIN_STEPS)
    if requested and strategy != "default":
        raise ValueError(
            "`pooling_jit_compile=True` needs `strategy='default'`: the "
            "(un)pooling layers are not compiled as XLA clusters under "
            f"tf.distribute. Received: strategy={strategy!r}"
        )
    return bool(requested)


class JaxDataParallel:
    """`keras.distribution.DataParallel` over the local JAX devices.

    Stands in for a `tf.distribute.Strategy` in the trainer: the
    distribution is set globally (Keras shards each batch across the
    devices and replicates the variables), `scope()` does nothing more.
    """

    def __init__(self):
        import jax

        self.devices = jax.devices()
        self.distribution = keras.distribution.DataParallel(
            devices=self.devices)
        keras.distribution.set_distribution(self.distribution)

    @property
    def num_replicas_in_sync(self):
        return len(self.devices)

    def scope(self):
        return contextlib.nullcontext()


class SingleDevice:
    """The one-device "strategy" of the JAX backend."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


def jax_strategy(name):
    """The JAX counterpart of strategy `name`.

    Raises:
        ValueError: `multi_worker`, which is `tf.distribute` only.
    """
    if name == "default":
        return SingleDevice()
    if name in ("mirrored", "data_parallel"):
        return JaxDataParallel()
    raise ValueError(
        f"`strategy` {name!r} needs the TensorFlow backend (TF_CONFIG "
        "clusters); on JAX use 'data_parallel' (or 'mirrored') for the "
        f"local devices. Received: strategy={name}"
    )


def set_logical_cpus_jax(count):
    """Splits the host into `count` JAX CPU devices (before JAX starts)."""
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = (
        f"{flags} --xla_force_host_platform_device_count={int(count)}"
    ).strip()
