"""The best float32 network with Winograd 3x3 convolutions at chosen sizes.

An experiment, not a user path: it takes `optimize_for_inference` of the
paper network (given informative random weights, `tests/layer_testing`),
replaces every 3x3 convolution whose input is `--sizes` pixels wide by a
Winograd F(4x4, 3x3) convolution fused with its bias and ReLU in one XLA
cluster (`conv_algorithms.winograd_conv`, kernel transformed once), and
times both networks' `predict_on_batch` in interleaved rounds. It reports
the speed-up, the largest output difference over the largest output and
the argmax agreement (switches may flip where two values nearly tie, so
the largest difference can be local and large while the labels agree):

    python benchmarks/winograd_network.py --sizes 28 56 [--json PATH]
"""

import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from common import layer_benchmark_parser  # noqa: E402
from common import parse_layer_benchmark_args  # noqa: E402
from common import time_interleaved  # noqa: E402
from common import write_report  # noqa: E402

TILE = 4


def winograd_layer_class():
    import keras
    import tensorflow as tf

    import conv_algorithms

    class WinogradConvReLU(keras.layers.Layer):
        """relu(conv3x3_same(x) + bias) by Winograd, as one XLA cluster."""

        def __init__(self, kernel, bias, **kwargs):
            super().__init__(**kwargs)
            self.filters = kernel.shape[-1]
            u = tf.constant(conv_algorithms.winograd_kernel(kernel, TILE))
            b = tf.constant(bias)
            self.compiled = tf.function(
                lambda x: tf.nn.relu(
                    conv_algorithms.winograd_conv(tf, x, u, TILE) + b),
                jit_compile=True)

        def call(self, x):
            return self.compiled(x)

        def compute_output_shape(self, shape):
            return (*shape[:3], self.filters)

    return WinogradConvReLU


def with_winograd(model, sizes):
    """`model` (BN folded, convolutions followed by ReLU) with its 3x3
    convolutions on `sizes`-wide inputs as Winograd layers; the names of
    the converted layers."""
    import keras

    from keras_deconvnet.models.batch_norm_folding import clone_with_weights

    layer_class = winograd_layer_class()
    converted = []

    def clone(layer):
        if (type(layer) is keras.layers.Conv2D
                and tuple(layer.kernel_size) == (3, 3)
                and layer.padding == "same" and layer.input.shape[1] in sizes
                and layer.input.shape[-1] > 3):
            converted.append(layer.name)
            kernel, bias = layer.get_weights()
            # The ReLU layer that follows stays: applying it twice is
            # harmless.
            return layer_class(kernel, bias, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    winograd = clone_with_weights(
        model, clone, lambda old_layer, _: old_layer.get_weights())
    return winograd, converted


def measure(args):
    from keras_deconvnet.models import DeconvNet
    from keras_deconvnet.models import optimize_for_inference
    from tests.layer_testing import make_informative

    rng = np.random.default_rng(0)
    model = DeconvNet(num_classes=21, width=args.width)
    make_informative(model, rng.uniform(0, 255, (2, 224, 224, 3)))
    optimized = optimize_for_inference(model)
    winograd, converted = with_winograd(optimized, set(args.sizes))
    images = rng.uniform(0, 255, (args.batch, 224, 224, 3)).astype("float32")
    reference = optimized.predict_on_batch(images)
    scores = winograd.predict_on_batch(images)
    print(f"converted {len(converted)} layers: {', '.join(converted)}")
    timings = time_interleaved(
        {"optimize_for_inference": lambda: optimized.predict_on_batch(images),
         "with winograd": lambda: winograd.predict_on_batch(images)},
        repeats=args.repeats, warmup=1)
    seconds = {name: timing["median_s"] for name, timing in timings.items()}
    return {
        "sizes": sorted(args.sizes), "width": args.width,
        "converted_layers": converted, "seconds_per_batch": seconds,
        "speedup": seconds["optimize_for_inference"]
        / seconds["with winograd"],
        "max_difference_over_max": float(
            np.abs(scores - reference).max() / np.abs(reference).max()),
        "argmax_agreement": float(
            np.mean(scores.argmax(-1) == reference.argmax(-1))),
    }


def main(argv=None):
    parser = layer_benchmark_parser(__doc__, 5,
                                    "interleaved timed rounds")
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 56],
                        help="input widths whose 3x3 convolutions convert")
    parser.add_argument("--width", type=float, default=1.0,
                        help="channel multiplier of the network")
    args, info = parse_layer_benchmark_args(parser, argv)
    result = measure(args)
    print(f"speed-up {result['speedup']:.3f}, argmax agreement "
          f"{result['argmax_agreement']:.5f}, largest difference "
          f"{result['max_difference_over_max']:.2e} of the largest score")
    write_report({"benchmark": "winograd_network", "machine": info,
                  "batch": args.batch, "repeats": args.repeats,
                  "command": "python benchmarks/winograd_network.py "
                             + " ".join(argv if argv is not None
                                        else sys.argv[1:]),
                  **result}, args.json)
    return result


if __name__ == "__main__":
    main()
