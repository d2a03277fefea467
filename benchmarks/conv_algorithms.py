"""How much Winograd 3x3 convolutions would buy the paper network on a CPU.

The best float32 path (BN folded) spends nearly all of its time in
oneDNN's direct 3x3 convolutions. TensorFlow offers no other algorithm,
so this measures, for every 3x3 layer shape of the paper DeconvNet
(encoder and mirrored decoder, batch 8), oneDNN's direct convolution
against Winograd F(2x2, 3x3) and F(4x4, 3x3) written in TensorFlow ops
and compiled with XLA (which fuses the tile transforms around one
batched matrix product; `keras_deconvnet.layers.winograd_conv`, the
kernel transformed once). Each convolution is followed by ReLU, as in the
folded network. Then it adds the layers up: the network's convolution
time with direct convolutions everywhere, and with the faster algorithm
per layer, and what that would take off the best float32 forward pass
(the BN-folded paper network's `predict_on_batch`, timed in the same
run):

    python benchmarks/conv_algorithms.py [--repeats 3] [--json PATH]

"rel error" is the largest difference from the direct convolution over
the largest output. Transposed 3x3 convolutions (the decoder) are timed as
convolutions: with stride 1 they are convolutions with a flipped kernel,
and oneDNN ran the two at the same speed (docs/performance.md).
"""

import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from common import format_table  # noqa: E402
from common import layer_benchmark_parser  # noqa: E402
from common import parse_layer_benchmark_args  # noqa: E402
from common import time_interleaved  # noqa: E402

# The paper network's 3x3 layers: (size, in, out, how many), encoder
# then decoder. conv1_1 (3 input channels) stays direct everywhere.
PAPER_LAYERS = (
    (224, 3, 64, 1), (224, 64, 64, 1), (112, 64, 128, 1),
    (112, 128, 128, 1), (56, 128, 256, 1), (56, 256, 256, 2),
    (28, 256, 512, 1), (28, 512, 512, 2), (14, 512, 512, 3),
    (14, 512, 512, 3), (28, 512, 512, 2), (28, 512, 256, 1),
    (56, 256, 256, 2), (56, 256, 128, 1), (112, 128, 128, 1),
    (112, 128, 64, 1), (224, 64, 64, 2),
)


def measure(args):
    import tensorflow as tf

    from keras_deconvnet.layers.winograd_conv import winograd_conv2d
    from keras_deconvnet.layers.winograd_conv import winograd_kernel

    rng = np.random.default_rng(0)
    shapes = sorted({layer[:3] for layer in PAPER_LAYERS}, reverse=True)
    rows = []
    for size, cin, cout in shapes:
        x = tf.constant(rng.standard_normal(
            (args.batch, size, size, cin)).astype(np.float32))
        kernel = (rng.standard_normal((3, 3, cin, cout))
                  / np.sqrt(9 * cin)).astype(np.float32)
        direct = tf.function(lambda x, k=tf.constant(kernel): tf.nn.relu(
            tf.nn.conv2d(x, k, 1, "SAME")))
        candidates = {"direct": direct}
        if cin > 3:
            for tile in (2, 4):
                u = winograd_kernel(tf.constant(kernel), tile)
                candidates[f"F({tile},3)"] = tf.function(
                    lambda x, u=u, t=tile: tf.nn.relu(
                        winograd_conv2d(x, u, t)), jit_compile=True)
        reference = direct(x).numpy()
        row = {"layer": f"{size}x{size} {cin}->{cout}"}
        for name, function in candidates.items():
            if name == "direct":
                continue
            error = np.abs(function(x).numpy() - reference).max()
            row[f"{name} rel error"] = float(error / np.abs(reference).max())
        print(f"timing {row['layer']}", flush=True)
        timings = time_interleaved(
            {name: (lambda f=f: f(x).numpy()) for name, f in
             candidates.items()}, repeats=args.repeats, warmup=2)
        for name, timing in timings.items():
            row[f"{name} ms"] = 1e3 * timing["median_s"]
        rows.append(row)
    return rows


def time_forward(args):
    """Seconds per batch of the BN-folded paper network's forward."""
    import keras_deconvnet
    from keras_deconvnet.models import fold_batch_norm

    model = fold_batch_norm(keras_deconvnet.DeconvNet(width=1.0))
    images = np.random.default_rng(0).uniform(
        0, 255, (args.batch, 224, 224, 3)).astype(np.float32)
    print("timing the folded paper network", flush=True)
    timing = time_interleaved(
        {"forward": lambda: model.predict_on_batch(images)},
        repeats=args.repeats, warmup=2)
    return timing["forward"]["median_s"]


def project(rows, forward_seconds):
    by_shape = {row["layer"]: row for row in rows}
    direct = best = 0.0
    for size, cin, cout, count in PAPER_LAYERS:
        row = by_shape[f"{size}x{size} {cin}->{cout}"]
        times = [v for k, v in row.items() if k.endswith(" ms")]
        direct += count * row["direct ms"] / 1e3
        best += count * min(times) / 1e3
    projection = {
        "conv_seconds_direct": direct,
        "conv_seconds_best_algorithm": best,
        "conv_speedup": direct / best,
    }
    if forward_seconds:
        projection["forward_seconds_measured"] = forward_seconds
        projection["forward_seconds_projected"] = forward_seconds - (
            direct - best)
    return projection


def main(argv=None):
    parser = layer_benchmark_parser(__doc__, 3,
                                    "interleaved timed rounds per shape")
    parser.add_argument("--no-forward", action="store_true",
                        help="skip timing the folded paper network")
    args, info = parse_layer_benchmark_args(parser, argv)
    rows = measure(args)
    forward_seconds = None if args.no_forward else time_forward(args)
    columns = ["layer", "direct ms", "F(2,3) ms", "F(4,3) ms",
               "F(4,3) rel error"]
    print(format_table(rows, columns))
    projection = project(rows, forward_seconds)
    print(json.dumps(projection, indent=1))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"machine": info, "batch": args.batch,
                       "repeats": args.repeats, "layers": rows,
                       "projection": projection}, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
