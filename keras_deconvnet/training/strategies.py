"""Distribution strategies for training.

`default` runs on one device; `mirrored` (or `data_parallel`) replicates
the model on every local GPU (or on the CPU devices when there is no GPU)
and splits each global batch across the replicas; `multi_worker`
synchronises several machines (or processes) described by the
`TF_CONFIG` environment variable (TensorFlow only).
On the JAX backend, `mirrored` and `data_parallel` are
`keras.distribution.DataParallel` over the local devices.
"""

import json
import os

STRATEGIES = ("default", "mirrored", "multi_worker", "data_parallel")

# Seconds a multi-worker task may go without a heartbeat before the run is
# aborted. TensorFlow's own default, 10 s, is missed by a worker that
# shares a busy CPU with others (seen on a 2-core machine); a worker that
# has really died still stops the run within this time.
HEARTBEAT_TIMEOUT = 60


def configure_logical_cpus(count):
    """Splits the CPU into `count` logical devices (before TF starts).

    Lets `mirrored` run several replicas on a CPU-only machine, for tests
    and for trying the distributed path without GPUs.

    Raises:
        RuntimeError: TensorFlow has already initialised its devices.
    """
    if count < 1:
        raise ValueError(f"`count` must be >= 1. Received: count={count}")
    import keras

    if keras.backend.backend() == "jax":
        from keras_deconvnet.training.backends import set_logical_cpus_jax

        return set_logical_cpus_jax(count)
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count
        )
    except RuntimeError as error:
        raise RuntimeError(
            "Logical CPU devices must be configured before TensorFlow "
            "initialises (before any model or tensor is created): "
            f"{error}"
        ) from None


def parse_tf_config():
    """Returns the parsed `TF_CONFIG`, or raises naming what is wrong."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ValueError(
            "--strategy multi_worker needs the TF_CONFIG environment "
            "variable, e.g. TF_CONFIG='{\"cluster\": {\"worker\": "
            "[\"host1:12345\", \"host2:12345\"]}, \"task\": {\"type\": "
            "\"worker\", \"index\": 0}}' on the first machine."
        )
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config["task"]
        task_type, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            "TF_CONFIG must be JSON with cluster.worker (a list of "
            "host:port) and task.type/task.index. "
            f"Received: TF_CONFIG={text!r} ({error})"
        ) from None
    if task_type == "worker" and not 0 <= index < len(workers):
        raise ValueError(
            f"TF_CONFIG task.index={index} is outside the "
            f"{len(workers)} workers of cluster.worker."
        )
    return config


def is_chief():
    """Whether this process writes files (checkpoints, model, logs).

    The worker with index 0 (or the `chief` task) when `TF_CONFIG` is set,
    otherwise always.
    """
    text = os.environ.get("TF_CONFIG")
    if not text:
        return True
    task = json.loads(text).get("task", {})
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0 \
        and "chief" not in json.loads(text).get("cluster", {})


def configure_coordination_service(heartbeat_timeout=HEARTBEAT_TIMEOUT):
    """Configures the coordination service of a multi-worker run.

    `MultiWorkerMirroredStrategy` would configure it itself, with
    TensorFlow's 10-s heartbeat timeout; this must run first (before
    TensorFlow starts), with the cluster of `TF_CONFIG`.

    Args:
        heartbeat_timeout: seconds without a heartbeat after which a task
            counts as failed and the run stops.
    """
    if not heartbeat_timeout > 0:
        raise ValueError(
            "`heartbeat_timeout` must be > 0 seconds. "
            f"Received: heartbeat_timeout={heartbeat_timeout}"
        )
    jobs = parse_tf_config()["cluster"]
    # Private modules, as MultiWorkerMirroredStrategy itself uses them:
    # TensorFlow has no public API for this configuration.
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    # The same leader and jobs as the strategy's own configuration.
    leader = "chief" if "chief" in jobs else "worker"
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=f"/job:{leader}/replica:0/task:0",
        heartbeat_timeout_in_ms=int(heartbeat_timeout * 1000),
        coordinated_jobs=[
            coordination_config_pb2.CoordinatedJob(
                name=job, num_tasks=len(jobs[job]))
            for job in ("chief", "worker") if job in jobs
        ],
    )


def get_strategy(name="default", heartbeat_timeout=HEARTBEAT_TIMEOUT):
    """Creates the `tf.distribute.Strategy` named `name`.

    Args:
        name: `"default"`, `"mirrored"` (alias `"data_parallel"`) or
            `"multi_worker"` (TensorFlow only).
        heartbeat_timeout: `multi_worker` only, unless
            `configure_coordination_service` ran first: seconds a worker
            may go without a heartbeat before the run stops.

    Returns:
        The strategy; build and compile the model inside `strategy.scope()`.

    Raises:
        ValueError: unknown name, or `multi_worker` without a valid
            `TF_CONFIG`.
    """
    import keras

    if name not in STRATEGIES:
        raise ValueError(
            f"`strategy` must be one of {STRATEGIES}. Received: strategy={name}"
        )
    if keras.backend.backend() == "jax":
        from keras_deconvnet.training.backends import jax_strategy

        return jax_strategy(name)
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name in ("mirrored", "data_parallel"):
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        if not devices:
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    from tensorflow.python.eager import context

    if context.context().coordination_service is None:
        configure_coordination_service(heartbeat_timeout)
    return tf.distribute.MultiWorkerMirroredStrategy()


def patch_multi_worker_fit(model, strategy):
    """Works around two Keras 3.15 failures of `fit` under
    `MultiWorkerMirroredStrategy` (TensorFlow backend).

    1. Its per-step log reduction calls `strategy.reduce("MEAN", v,
       axis=0)` on scalar losses and metrics ("Invalid reduction dimension
       0 for input with 0 dimensions"); here scalars are averaged across
       workers with `axis=None`.
    2. `fit` first builds the model symbolically from one batch, which it
    gets by `strategy.reduce("MEAN", (x, y))` on the whole per-replica
    structure; `MultiWorkerMirroredStrategy` cannot convert that tuple
    ("Attempt to convert a value (PerReplica...) to a Tensor"). Only the
    batch's shapes matter there, so this takes the local replica's values
    instead (no collective, same batch consumed as Keras does).
    """
    import tensorflow as tf

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = maybe_symbolic_build

    from keras.src.backend.tensorflow import trainer as keras_trainer

    original = keras_trainer.reduce_per_replica
    if getattr(original, "patched_for_multi_worker", False):
        return

    def reduce_per_replica(values, distribute_strategy, reduction):
        if isinstance(
            distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy
        ) and reduction in ("auto", "mean"):
            return tf.nest.map_structure(
                lambda v: distribute_strategy.reduce("MEAN", v, axis=None),
                values,
            )
        return original(values, distribute_strategy, reduction)

    reduce_per_replica.patched_for_multi_worker = True
    keras_trainer.reduce_per_replica = reduce_per_replica
