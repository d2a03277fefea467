"""What a user's `model.fit` and `model.predict` reach on a GPU (JAX).

For GPU machines with JAX and no TensorFlow (this script never imports
TensorFlow; the tf.data pipeline of `train()` cannot run there). Unlike
`gpu_jax.py`, which times a hand-written jitted step, this times the
product path through Keras' own JAX trainer:

- **training**: the paper network built and compiled as `train()` builds
  it (`DeconvNet`, `compile_for_training` with the paper's `CaffeSGD`,
  the ignore-label cross-entropy and the mIoU metric, `jax.jit` of the
  whole step, the precision policy of `--mixed-precision`), fed by
  `model.fit(x, y, batch_size=...)` from arrays already on the device,
  so the input pipeline is not what is measured;
- **inference**: `model.predict(x, batch_size=...)` of the float32
  model and of its bfloat16 twin (`with_precision`, what
  `Segmenter(precision="bfloat16")` runs), which returns NumPy score
  maps: the device-to-host copy of the float32 scores is included, as a
  user gets it; `inference_labels` predicts with the twin's labels
  (`with_label_output`: 1 byte per pixel). A `device_forward` row times the same twin's jitted
  forward with the scores left on the device, and the host copy's
  GB/s, to show that copy's cost; a `training_no_metric` row drops the
  mIoU metric from the step, to show its cost.

Each figure is the median over `--repeats` calls after one warm-up call
(which compiles); each `fit` call runs `--train-steps` steps and each
`predict` call `--predict-batches` batches. Configurations run in
priority order and are skipped after `--budget-s` seconds. Prints a
table and one line `RESULT_JSON {...}`.

Examples:

    python benchmarks/gpu_product_path.py          # one H100/H200
    python benchmarks/gpu_product_path.py --width 0.0625 \\
        --train-batch-sizes 2 --predict-batch-sizes 2 --repeats 1 \\
        --train-steps 2 --predict-batches 2        # CPU smoke run
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from common import write_report  # noqa: E402
from gpu_jax import median_seconds  # noqa: E402
from gpu_jax import print_gpu_report  # noqa: E402

from keras_deconvnet.models import DeconvNet  # noqa: E402
from keras_deconvnet.models import with_label_output  # noqa: E402
from keras_deconvnet.models import with_precision  # noqa: E402
from keras_deconvnet.training import backends  # noqa: E402
from keras_deconvnet.training.model_compile import (  # noqa: E402
    PAPER_OPTIMIZER, compile_for_training)

NUM_CLASSES = 21
IGNORE_LABEL = 255
SIZE = 224
# Issue 14's targets, bf16, paper network, one H100/H200.
TARGETS = {"training": 1500.0, "inference": 6000.0,
           "inference_labels": 6000.0}
MODES = ("training", "inference", "inference_labels", "device_forward",
         "training_no_metric")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="DeconvNet crops/s through Keras' fit and predict on "
        "JAX (no TensorFlow).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Examples:")[1],
    )
    parser.add_argument("--width", type=float, default=1.0,
                        help="channel multiplier (1.0: the paper network)")
    parser.add_argument("--train-batch-sizes", type=int, nargs="+",
                        default=[64, 128])
    parser.add_argument("--predict-batch-sizes", type=int, nargs="+",
                        default=[64, 256])
    parser.add_argument("--train-steps", type=int, default=30,
                        help="steps per timed fit call")
    parser.add_argument("--predict-batches", type=int, default=8,
                        help="batches per timed predict call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--float32", action="store_true",
                        help="also time float32 training (bf16 first)")
    parser.add_argument("--budget-s", type=float, default=330.0,
                        help="start no new configuration after this many "
                        "seconds")
    parser.add_argument("--modes", nargs="+", choices=MODES,
                        help="only these rows (default: all)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the results to FILE")
    return parser.parse_args(argv)


def device_data(count, size, labels):
    """Random 0-255 crops (and labels with 5% ignored) on the device."""
    keys = jax.random.split(jax.random.key(count), 3)
    images = jax.random.uniform(keys[0], (count, size, size, 3),
                                minval=0.0, maxval=255.0)
    if not labels:
        return images, None
    label_maps = jax.random.randint(keys[1], (count, size, size), 0,
                                    NUM_CLASSES)
    ignored = jax.random.uniform(keys[2], (count, size, size)) < 0.05
    label_maps = jax.numpy.where(ignored, IGNORE_LABEL, label_maps)
    return images, label_maps.astype("int32")


def build(args, policy):
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(policy)
    try:
        return DeconvNet(num_classes=NUM_CLASSES, width=args.width,
                         input_shape=(SIZE, SIZE, 3))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def training_call(args, policy, batch_size, metric=True):
    """A no-argument call that runs `fit` for `--train-steps` steps.

    `metric=False` (a diagnostic row) drops the training mIoU metric, to
    show what its confusion matrix costs in the step.
    """
    model = build(args, policy)
    # train() keeps its policy set for the whole run.
    keras.mixed_precision.set_global_policy(policy)
    jit_compile = backends.default_jit_compile(None)
    compile_for_training(
        model, num_classes=NUM_CLASSES, ignore_label=IGNORE_LABEL,
        class_weights=None, jit_compile=jit_compile, **PAPER_OPTIMIZER)
    if not metric:
        model.compile(optimizer=model.optimizer, loss=model.loss,
                      jit_compile=jit_compile)
    images, labels = device_data(batch_size * args.train_steps, SIZE,
                                 labels=True)

    def call():
        keras.mixed_precision.set_global_policy(policy)
        history = model.fit(images, labels, batch_size=batch_size,
                            epochs=1, shuffle=False, verbose=0)
        loss = history.history["loss"][-1]
        if not np.isfinite(loss):
            raise FloatingPointError(f"training loss {loss}")

    return call, batch_size * args.train_steps


def predict_call(args, precision, batch_size, on_device=False,
                 labels=False):
    """A no-argument call that predicts `--predict-batches` batches."""
    model = with_precision(build(args, "float32"), precision)
    if labels:
        model = with_label_output(model)
    images, _ = device_data(batch_size * args.predict_batches, SIZE,
                            labels=False)
    if on_device:
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        @jax.jit
        def forward(batch):
            scores, _ = model.stateless_call(trainable, non_trainable,
                                             batch, training=False)
            return scores

        def call():
            for start in range(0, images.shape[0], batch_size):
                scores = forward(images[start:start + batch_size])
            jax.block_until_ready(scores)
            call.last_scores = scores
    else:
        expected = images.shape[:3] if labels else (*images.shape[:3],
                                                      NUM_CLASSES)

        def call():
            outputs = model.predict(images, batch_size=batch_size, verbose=0)
            assert outputs.shape == expected, outputs.shape

    return call, batch_size * args.predict_batches


def copy_rate(scores, repeats=3):
    """GB/s of copying `scores` (on the device) into a NumPy array."""
    samples = []
    for _ in range(repeats):
        fresh = scores + 0  # a new buffer: no copy cached on the host
        jax.block_until_ready(fresh)
        started = time.perf_counter()
        np.asarray(fresh)
        samples.append(time.perf_counter() - started)
    return scores.nbytes / statistics.median(samples) / 1e9


def plan(args):
    bf16 = backends.precision_policy(True)
    first, last = args.train_batch_sizes[0], args.predict_batch_sizes[-1]
    rows = [("training", bf16, first),
            ("inference", "bfloat16", args.predict_batch_sizes[0])]
    rows += [("inference", "bfloat16", b)
             for b in args.predict_batch_sizes[1:]]
    rows += [("inference_labels", "bfloat16", last),
             ("device_forward", "bfloat16", last)]
    rows += [("training", bf16, b) for b in args.train_batch_sizes[1:]]
    rows += [("inference", "float32", last),
             ("training_no_metric", bf16, first)]
    if args.float32:
        rows += [("training", "float32", first)]
    if args.modes:
        rows = [row for row in rows if row[0] in args.modes]
    return rows


def run(args):
    started = time.perf_counter()
    device = jax.devices()[0]
    results = []
    for mode, precision, batch_size in plan(args):
        on_device = mode == "device_forward"
        row = {"mode": mode, "precision": precision, "batch": batch_size}
        results.append(row)
        if time.perf_counter() - started > args.budget_s:
            row["status"] = "skipped (time budget)"
            continue
        print(f"{mode} {precision} batch {batch_size} ...", flush=True)
        try:
            if mode.startswith("training"):
                call, crops = training_call(args, precision, batch_size,
                                            metric=mode == "training")
            else:
                call, crops = predict_call(
                    args, precision, batch_size, on_device,
                    labels=mode == "inference_labels")
            # One warm-up call: the compiling one.
            median, fastest, first_call = median_seconds(
                call, args.repeats, warmup=1)
            if on_device:
                row["device_to_host_gb_per_s"] = copy_rate(call.last_scores)
            del call
        except Exception as error:  # e.g. out of memory at a large batch
            row["status"] = f"failed: {type(error).__name__}: {error}"[:300]
            continue
        finally:
            keras.mixed_precision.set_global_policy("float32")
        row.update(status="ok", crops=crops, median_s=median, min_s=fastest,
                   first_call_s=first_call, crops_per_s=crops / median)
        target = TARGETS.get(mode)
        if (target is not None and "bfloat16" in precision
                and args.width == 1.0):
            row["target_crops_per_s"] = target
            row["met"] = row["crops_per_s"] >= target
    return {
        "device": f"{device.platform}: {device.device_kind}",
        "jax": jax.__version__,
        "keras": keras.__version__,
        "width": args.width,
        "repeats": args.repeats,
        "train_steps": args.train_steps,
        "predict_batches": args.predict_batches,
        # None: blocked on purpose (the test does that).
        "tensorflow_imported": sys.modules.get("tensorflow") is not None,
        "total_s": time.perf_counter() - started,
        "results": results,
    }


def print_table(report):
    print_gpu_report(report, (
        "mode", "precision", "batch", "crops_per_s", "median_s",
        "first_call_s", "target_crops_per_s", "met", "status"),
        "a compiling call")


def main(argv=None):
    args = parse_args(argv)
    report = run(args)
    print_table(report)
    write_report(report, args.json)
    return report


if __name__ == "__main__":
    main()
