"""The training step of `train()` per Keras backend and precision.

Same network, batch, loss and optimizer (`CaffeSGD`); each backend and
dtype policy (`--precisions float32 mixed_bfloat16`: what
`train(mixed_precision=True)` uses on a CPU) runs in its own worker
process (a process has one Keras backend), and the parent alternates
timing rounds between them so that all see the same machine load. Each
backend compiles its step as `train()` does by default on CPU:
`jax.jit` on JAX, a `tf.function` with XLA pooling clusters on
TensorFlow.

Usage:

    python benchmarks/train_step_backends.py [--width 0.25] [--batch 4]
        [--rounds 5] [--steps 3] [--backends jax tensorflow]
        [--precisions float32 mixed_bfloat16] [--json FILE]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


PRECISIONS = ("float32", "mixed_bfloat16")


def worker(width, batch, size, precision="float32"):
    """Builds the model, compiles it, then times steps on each stdin line."""
    import numpy as np

    import keras

    keras.mixed_precision.set_global_policy(precision)

    from keras_deconvnet import DeconvNet
    from keras_deconvnet.training import backends
    from keras_deconvnet.training.losses import SegmentationCrossEntropy
    from keras_deconvnet.training.optimizers import training_optimizer

    keras.utils.set_random_seed(0)
    model = DeconvNet(num_classes=21, width=width,
                      input_shape=(size, size, 3))
    model.compile(
        optimizer=training_optimizer("sgd", 0.01, momentum=0.9,
                                     weight_decay=0.0005,
                                     bias_learning_rate_multiplier=2.0),
        loss=SegmentationCrossEntropy(255),
        jit_compile=backends.default_jit_compile(None),
    )
    if keras.backend.backend() == "tensorflow":
        from keras_deconvnet.layers import set_pooling_jit_compile

        set_pooling_jit_compile(model, True)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
    labels = rng.integers(0, 21, (batch, size, size)).astype("int32")
    start = time.perf_counter()
    model.train_on_batch(images, labels)
    print(json.dumps({"compile_s": time.perf_counter() - start}), flush=True)
    for line in sys.stdin:
        steps = int(line)
        start = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(images, labels)
        float(np.asarray(loss))  # waits for the last step
        print(json.dumps({"step_s": (time.perf_counter() - start) / steps}),
              flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["jax", "tensorflow"],
                        choices=("jax", "tensorflow"))
    parser.add_argument("--precisions", nargs="+", default=["float32"],
                        choices=PRECISIONS,
                        help="dtype policies (mixed_bfloat16: bf16 compute, "
                             "float32 weights)")
    parser.add_argument("--json")
    parser.add_argument("--worker", action="store_true",
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.width, args.batch, args.size, args.precisions[0])
    # "jax" / "tensorflow" for float32 (the names of earlier records),
    # "tensorflow mixed_bfloat16" for the others.
    runs = {(backend if precision == "float32"
             else f"{backend} {precision}"): (backend, precision)
            for backend in args.backends for precision in args.precisions}
    workers = {}
    for name, (backend, precision) in runs.items():
        environment = {**os.environ, "KERAS_BACKEND": backend,
                       "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "2",
                       "PYTHONPATH": ROOT}
        workers[name] = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker",
             "--width", str(args.width), "--batch", str(args.batch),
             "--size", str(args.size), "--precisions", precision],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=environment)
    compile_s = {name: json.loads(w.stdout.readline())["compile_s"]
                 for name, w in workers.items()}
    names = tuple(runs)
    times = {name: [] for name in names}
    for round_index in range(args.rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            workers[name].stdin.write(f"{args.steps}\n")
            workers[name].stdin.flush()
            times[name].append(
                json.loads(workers[name].stdout.readline())["step_s"])
    for w in workers.values():
        w.stdin.close()
        w.wait()
    medians = {name: statistics.median(t) for name, t in times.items()}
    from common import machine_info

    report = {
        **machine_info(),
        "width": args.width, "batch": args.batch, "size": args.size,
        "compile_s": compile_s, "step_s": times, "median_step_s": medians,
    }
    for name in names:
        print(f"{name:26s} step {medians[name]:.3f} s median "
              f"({args.batch / medians[name]:.1f} crops/s), first step "
              f"(compile) {compile_s[name]:.0f} s")
    if "tensorflow" in medians and "jax" in medians:
        report["tensorflow_over_jax"] = medians["tensorflow"] / medians["jax"]
        print(f"JAX step is {report['tensorflow_over_jax']:.2f}x as fast as "
              "TensorFlow's")
    for backend in args.backends:
        bf16 = f"{backend} mixed_bfloat16"
        if backend in medians and bf16 in medians:
            speedup = medians[backend] / medians[bf16]
            report[f"{backend}_bf16_speedup"] = speedup
            print(f"{backend}: the mixed_bfloat16 step is {speedup:.2f}x as "
                  "fast as float32's")
    print(f"CPU {report['processor']}, load "
          f"{report['load_average_1min']:.1f}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(report, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
