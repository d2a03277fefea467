"""The paper DeconvNet on the JAX backend: inference and training crops/s.

For GPU machines that have JAX but no TensorFlow: this script imports
only keras (with `KERAS_BACKEND=jax`, set here before keras is imported),
numpy, jax and `keras_deconvnet.models`, never TensorFlow.

It builds `DeconvNet(width=1.0)` at 224x224 under each precision policy
(`mixed_bfloat16` by default, then `float32`) and measures:

- inference: a `jax.jit` of `model.stateless_call(..., training=False)`
  with the weights passed as arguments, on device-resident random crops,
  at each `--batch-sizes`;
- training: a jitted stateless step (forward, softmax cross-entropy,
  gradients, `keras.optimizers.SGD(momentum=0.9).stateless_apply`) with
  the state donated, at each `--train-batch-sizes`.

Every figure is the median of `--repeats` timed calls after `--warmup`
calls, each ended by `block_until_ready`. Configurations run in priority
order and are skipped once `--budget-s` seconds have passed, so the whole
run stays within a few minutes on one H100. Prints a table and one line
`RESULT_JSON {...}`.

Examples:

    python benchmarks/gpu_jax.py                       # one H100/H200
    python benchmarks/gpu_jax.py --width 0.0625 --batch-sizes 2 \
        --train-batch-sizes 2 --repeats 2              # CPU smoke run
"""

import argparse
import os
import statistics
import sys
import time

os.environ["KERAS_BACKEND"] = "jax"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from common import format_table  # noqa: E402
from common import write_report  # noqa: E402

from keras_deconvnet.models import DeconvNet  # noqa: E402

NUM_CLASSES = 21
INPUT_SIZE = 224
# Multiply-accumulates of one 224x224 crop through the paper network.
FORWARD_GFLOP_PER_CROP = 65.5
# Targets: PyTorch 2.11 eager, bf16, on the same H100 (reference doc).
TARGETS = {("inference", 50): 2470.0, ("training", 64): 850.0}
POLICIES = {"bf16": "mixed_bfloat16", "fp32": "float32"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="DeconvNet crops/s on the JAX backend (no TensorFlow).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Examples:")[1],
    )
    parser.add_argument("--width", type=float, default=1.0,
                        help="channel multiplier (1.0: the paper network)")
    parser.add_argument("--batch-sizes", type=int, nargs="+",
                        default=[50, 200], help="inference batch sizes")
    parser.add_argument("--train-batch-sizes", type=int, nargs="+",
                        default=[64, 128], help="training batch sizes")
    parser.add_argument("--precisions", nargs="+", choices=POLICIES,
                        default=["bf16", "fp32"],
                        help="precision policies, in priority order")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--budget-s", type=float, default=210.0,
                        help="start no new configuration after this many "
                        "seconds (compiling the paper network takes a while)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the results to FILE")
    return parser.parse_args(argv)


def median_seconds(function, repeats, warmup):
    """Median seconds per call; the first warm-up call is the compile."""
    started = time.perf_counter()
    jax.block_until_ready(function())
    first_call = time.perf_counter() - started
    for _ in range(warmup - 1):
        jax.block_until_ready(function())
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(function())
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), min(samples), first_call


def inference_function(model, batch_size):
    """A jitted forward on a fixed random batch; returns a no-arg call."""
    images = jax.random.uniform(
        jax.random.key(0), (batch_size, INPUT_SIZE, INPUT_SIZE, 3),
        minval=0.0, maxval=255.0,
    )
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    @jax.jit
    def forward(trainable, non_trainable, images):
        scores, _ = model.stateless_call(
            trainable, non_trainable, images, training=False
        )
        return scores

    return lambda: forward(trainable, non_trainable, images)


def training_function(model, batch_size):
    """A jitted SGD-momentum step with donated state; returns a no-arg call."""
    keys = jax.random.split(jax.random.key(1))
    images = jax.random.uniform(
        keys[0], (batch_size, INPUT_SIZE, INPUT_SIZE, 3),
        minval=0.0, maxval=255.0,
    )
    labels = jax.random.randint(
        keys[1], (batch_size, INPUT_SIZE, INPUT_SIZE), 0, NUM_CLASSES
    )
    optimizer = keras.optimizers.SGD(learning_rate=1e-6, momentum=0.9)
    optimizer.build(model.trainable_variables)
    loss_function = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True
    )

    def loss_and_state(trainable, non_trainable, images, labels):
        scores, non_trainable = model.stateless_call(
            trainable, non_trainable, images, training=True
        )
        return loss_function(labels, scores), non_trainable

    gradient_function = jax.value_and_grad(loss_and_state, has_aux=True)

    def step(state, images, labels):
        trainable, non_trainable, optimizer_state = state
        (loss, non_trainable), gradients = gradient_function(
            trainable, non_trainable, images, labels
        )
        trainable, optimizer_state = optimizer.stateless_apply(
            optimizer_state, gradients, trainable
        )
        return loss, (trainable, non_trainable, optimizer_state)

    jitted = jax.jit(step, donate_argnums=0)
    # Copies: the step donates its state, and the model's own buffers must
    # survive for the next configuration.
    state = [(
        [jax.numpy.copy(v.value) for v in model.trainable_variables],
        [jax.numpy.copy(v.value) for v in model.non_trainable_variables],
        [jax.numpy.copy(v.value) for v in optimizer.variables],
    )]

    def call():
        loss, state[0] = jitted(state[0], images, labels)
        return loss

    return call


def run(args):
    started = time.perf_counter()
    device = jax.devices()[0]
    results = []
    plan = []
    for precision in args.precisions:
        # Targets first: the first inference and training batch sizes.
        plan += [(precision, "inference", args.batch_sizes[0]),
                 (precision, "training", args.train_batch_sizes[0])]
        plan += [(precision, "inference", b) for b in args.batch_sizes[1:]]
        plan += [(precision, "training", b)
                 for b in args.train_batch_sizes[1:]]
    model = model_precision = None
    for precision, mode, batch_size in plan:
        row = {"precision": precision, "mode": mode, "batch": batch_size}
        results.append(row)
        if time.perf_counter() - started > args.budget_s:
            row["status"] = "skipped (time budget)"
            continue
        if model_precision != precision:
            model = None
            keras.backend.clear_session()
            keras.mixed_precision.set_global_policy(POLICIES[precision])
            model = DeconvNet(num_classes=NUM_CLASSES, width=args.width)
            model_precision = precision
        print(f"{precision} {mode} batch {batch_size} ...", flush=True)
        try:
            if mode == "inference":
                function = inference_function(model, batch_size)
            else:
                function = training_function(model, batch_size)
            median, fastest, first_call = median_seconds(
                function, args.repeats, args.warmup
            )
            del function
        except Exception as error:  # e.g. out of memory at a large batch
            row["status"] = f"failed: {type(error).__name__}: {error}"[:300]
            continue
        flop_factor = 1.0 if mode == "inference" else 3.0
        crops_per_s = batch_size / median
        row.update({
            "status": "ok",
            "median_s": median,
            "min_s": fastest,
            "first_call_s": first_call,
            "crops_per_s": crops_per_s,
            "tflops": (crops_per_s * FORWARD_GFLOP_PER_CROP * flop_factor
                       * args.width**2 / 1000),
        })
        target = TARGETS.get((mode, batch_size))
        if target is not None and precision == "bf16" and args.width == 1.0:
            row["target_crops_per_s"] = target
            row["met"] = crops_per_s > target
    keras.mixed_precision.set_global_policy("float32")
    return {
        "device": f"{device.platform}: {device.device_kind}",
        "jax": jax.__version__,
        "keras": keras.__version__,
        "width": args.width,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "total_s": time.perf_counter() - started,
        "results": results,
    }


def print_gpu_report(report, columns, first_calls):
    """The table of a GPU report (this script's or
    `gpu_product_path.py`'s); `first_calls` says what came before the
    timed calls."""
    print(f"\ndevice {report['device']}, jax {report['jax']}, keras "
          f"{report['keras']}, width {report['width']}, median of "
          f"{report['repeats']} after {first_calls}")
    print(format_table(report["results"], columns))
    print(f"total {report['total_s']:.0f} s; TensorFlow imported: "
          f"{report['tensorflow_imported']}")


def print_table(report):
    print_gpu_report(report, (
        "precision", "mode", "batch", "crops_per_s", "median_s",
        "first_call_s", "tflops", "target_crops_per_s", "met", "status"),
        f"{report['warmup']} warm-up calls")


def main(argv=None):
    args = parse_args(argv)
    report = run(args)
    print_table(report)
    write_report(report, args.json)
    return report


if __name__ == "__main__":
    main()
