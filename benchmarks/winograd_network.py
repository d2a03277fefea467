"""What Winograd convolutions buy the best float32 network, and where.

Takes the paper network (given informative random weights,
`tests/layer_testing`), `optimize_for_inference(model, winograd=False)`,
and the same with its 3x3 convolutions on inputs of `--min-size` to
`--max-size` pixels with at least `--min-channels` channels as
`WinogradConv2D`
(`models.inference_model.winograd_convolutions`: F(4x4, 3x3), fused with
the ReLU after it in one XLA cluster). Times both networks'
`predict_on_batch` in interleaved rounds and reports the speed-up, the
largest output difference over the largest output and the argmax
agreement (switches may flip where two values nearly tie, so the largest
difference can be local and large while the labels agree). The defaults
are `optimize_for_inference`'s:

    python benchmarks/winograd_network.py [--min-size 28] \
        [--max-size 56] [--min-channels 128] [--json PATH]
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
from keras_deconvnet.models.inference_model import (  # noqa: E402
    WINOGRAD_MAX_SIZE, WINOGRAD_MIN_CHANNELS, WINOGRAD_MIN_SIZE)


def measure(args):
    from keras_deconvnet.layers import WinogradConv2D
    from keras_deconvnet.models import DeconvNet
    from keras_deconvnet.models import optimize_for_inference
    from keras_deconvnet.models.inference_model import winograd_convolutions
    from tests.layer_testing import make_informative

    rng = np.random.default_rng(0)
    model = DeconvNet(num_classes=21, width=args.width)
    make_informative(model, rng.uniform(0, 255, (2, 224, 224, 3)))
    optimized = optimize_for_inference(model, winograd=False)
    winograd = winograd_convolutions(optimized, args.min_size,
                                     args.max_size, args.min_channels)
    converted = [layer.name for layer in winograd.layers
                 if isinstance(layer, WinogradConv2D)]
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
        "min_size": args.min_size, "max_size": args.max_size, "min_channels": args.min_channels,
        "width": args.width,
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
    parser.add_argument("--min-size", type=int, default=WINOGRAD_MIN_SIZE,
                        help="smallest input height and width converted")
    parser.add_argument("--max-size", type=int, default=WINOGRAD_MAX_SIZE,
                        help="largest input height and width converted")
    parser.add_argument("--min-channels", type=int,
                        default=WINOGRAD_MIN_CHANNELS,
                        help="fewest input channels converted")
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
