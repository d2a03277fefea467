"""Time of the two TFLite conversion routes of `export_tflite`.

`keras_deconvnet.export.convert_to_tflite` converts a small model as its
traced crop function with the weights frozen in, and a large one through
a SavedModel (Keras' `ExportArchive`, then
`TFLiteConverter.from_saved_model`); `FROZEN_CONVERSION_MAX_BYTES` is the
limit. This script times both routes on the same model, alternated, and
checks that they give the same operators and the same LiteRT outputs on
one image:

    python benchmarks/tflite_export_time.py [--width 1.0] [--repeats 2]

`--width 1.0` is the paper network (about 1 GB of float32 weights; its
frozen route needs more than 23 GB of memory: run it with
`--routes saved_model`). Prints one line per conversion and a JSON
summary (`--json` writes it); run it under `/usr/bin/time -v` for the
peak memory.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import machine_info  # noqa: E402


ROUTES = ("frozen_function", "saved_model")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=float, default=1.0,
                        help="DeconvNet width (1.0: the paper network)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="conversions per route, alternated")
    parser.add_argument("--routes", nargs="+", default=list(ROUTES),
                        choices=ROUTES, help="which conversions to run")
    parser.add_argument("--json", help="also write the summary here")
    return parser.parse_args(argv)


def convert(model, route):
    """`convert_to_tflite` by `route`, whatever the model's size."""
    from keras_deconvnet.export import tflite

    limit = tflite.FROZEN_CONVERSION_MAX_BYTES
    tflite.FROZEN_CONVERSION_MAX_BYTES = (
        float("inf") if route == "frozen_function" else -1)
    try:
        return tflite.convert_to_tflite(model)
    finally:
        tflite.FROZEN_CONVERSION_MAX_BYTES = limit


def litert_scores(tflite_bytes, image):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=tflite_bytes).get_signature_runner()
    return runner(images=image)["scores"]


def main(argv=None):
    args = parse_args(argv)
    import keras

    from keras_deconvnet import DeconvNet
    from keras_deconvnet.export import tflite

    keras.utils.set_random_seed(0)
    model = DeconvNet(num_classes=21, width=args.width)
    crop_size = model.input_shape[1]
    times = {name: [] for name in args.routes}
    outputs = {}
    for repeat in range(args.repeats):
        for name in args.routes:
            start = time.perf_counter()
            outputs[name] = convert(model, name)
            times[name].append(time.perf_counter() - start)
            print(f"{name}: {times[name][-1]:.1f} s "
                  f"({len(outputs[name]) / 1e6:.1f} MB)", flush=True)
    summary = {"machine": machine_info(), "width": args.width,
               "weight_megabytes": tflite.weight_bytes(model) / 2**20,
               "seconds": times}
    if len(outputs) == len(ROUTES):
        image = np.random.default_rng(0).uniform(
            0, 255, (1, crop_size, crop_size, 3)).astype("float32")
        scores = {name: litert_scores(data, image)
                  for name, data in outputs.items()}
        best = {name: min(values) for name, values in times.items()}
        summary.update(
            speedup=best["saved_model"] / best["frozen_function"],
            same_operators=tflite.tflite_operators(
                outputs["frozen_function"])
            == tflite.tflite_operators(outputs["saved_model"]),
            max_abs_output_difference=float(np.abs(
                scores["frozen_function"] - scores["saved_model"]).max()),
        )
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(summary, file, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
