"""What `Segmenter(optimize=True)` costs and buys, from a cold start.

`optimize=True` runs a copy of the model through `optimize_for_inference`
(BN folded, on a CPU Winograd 3x3 convolutions). The copy takes time, and
XLA compiles the Winograd clusters on the first batch of each shape, so
the first image is slower and the following ones faster. For each setting
a fresh process (compiled clusters live in the process) builds the
DeconvNet (random weights: the time does not depend on them), makes the
`Segmenter`, and segments `--images` random 500x375 images in tiles mode,
timing the construction and each image:

    python benchmarks/segmenter_optimize.py [--width 1.0] [--images 4] \\
        [--json PATH]

Set `TF_XLA_FLAGS=--tf_xla_persistent_cache_directory=DIR` to keep the
compiled clusters on disk between processes.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from common import machine_info  # noqa: E402
from common import write_report  # noqa: E402


def run_child(width, images, optimize):
    """One cold start: construction and per-image seconds."""
    import keras_deconvnet
    from keras_deconvnet.inference import Segmenter

    rng = np.random.default_rng(0)
    model = keras_deconvnet.DeconvNet(num_classes=21, width=width)
    started = time.perf_counter()
    segmenter = Segmenter(model, mode="tiles", optimize=optimize)
    construct = time.perf_counter() - started
    seconds = []
    for _ in range(images):
        image = rng.integers(0, 256, (375, 500, 3)).astype("uint8")
        started = time.perf_counter()
        segmenter.segment(image)
        seconds.append(time.perf_counter() - started)
    return {"optimize": optimize, "construct_s": construct,
            "image_s": seconds,
            "tiles_per_image": int(segmenter.last_timings["num_boxes"])}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=1.0,
                        help="channel multiplier of the network")
    parser.add_argument("--images", type=int, default=4,
                        help="images segmented after construction")
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--child", choices=("0", "1"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.images < 2 or args.width <= 0:
        parser.error("--images must be >= 2 (a first and a later image) and "
                     f"--width > 0. Received: --images {args.images}, "
                     f"--width {args.width}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child is not None:
        print("RESULT " + json.dumps(
            run_child(args.width, args.images, args.child == "1")))
        return None
    info = machine_info()
    print(f"CPU: {info['processor']} ({info['cpu_count']} cores)")
    rows = {}
    for optimize in ("0", "1"):
        output = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child", optimize,
             "--width", str(args.width), "--images", str(args.images)],
            capture_output=True, text=True, check=True).stdout
        row = json.loads(output.split("RESULT ")[-1])
        rows["optimize" if optimize == "1" else "plain"] = row
        later = float(np.median(row["image_s"][1:]))
        print(f"optimize={row['optimize']!s:5}: construct "
              f"{row['construct_s']:.2f} s, first image "
              f"{row['image_s'][0]:.2f} s, later images {later:.2f} s "
              f"(median, {row['tiles_per_image']} tiles each)")
    result = {"benchmark": "segmenter_optimize", "machine": info,
              "width": args.width, "images": args.images, **rows,
              "later_image_speedup": float(
                  np.median(rows["plain"]["image_s"][1:])
                  / np.median(rows["optimize"]["image_s"][1:]))}
    write_report(result, args.json)
    return result


if __name__ == "__main__":
    main()
