"""The training step of `train()` on the JAX and TensorFlow backends.

Same network, batch, loss and optimizer (`CaffeSGD`); each backend runs
in its own worker process (a process has one Keras backend), and the
parent alternates timing rounds between them so that both see the same
machine load. Each backend compiles its step as `train()` does by
default on CPU: `jax.jit` on JAX, a `tf.function` with XLA pooling
clusters on TensorFlow.

Usage:

    python benchmarks/train_step_backends.py [--width 0.25] [--batch 4]
        [--rounds 5] [--steps 3] [--json FILE]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(width, batch, size):
    """Builds the model, compiles it, then times steps on each stdin line."""
    import numpy as np

    import keras

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
    parser.add_argument("--json")
    parser.add_argument("--worker", action="store_true",
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.width, args.batch, args.size)
    backends = ("jax", "tensorflow")
    workers = {}
    for name in backends:
        environment = {**os.environ, "KERAS_BACKEND": name,
                       "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "2",
                       "PYTHONPATH": ROOT}
        workers[name] = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker",
             "--width", str(args.width), "--batch", str(args.batch),
             "--size", str(args.size)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=environment)
    compile_s = {name: json.loads(w.stdout.readline())["compile_s"]
                 for name, w in workers.items()}
    times = {name: [] for name in backends}
    for round_index in range(args.rounds):
        order = backends if round_index % 2 == 0 else backends[::-1]
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
        "tensorflow_over_jax": medians["tensorflow"] / medians["jax"],
    }
    for name in backends:
        print(f"{name:10s} step {medians[name]:.3f} s median "
              f"({args.batch / medians[name]:.1f} crops/s), first step "
              f"(compile) {compile_s[name]:.0f} s")
    print(f"JAX step is {report['tensorflow_over_jax']:.2f}x as fast as "
          f"TensorFlow's; CPU {report['processor']}, load "
          f"{report['load_average_1min']:.1f}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(report, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
