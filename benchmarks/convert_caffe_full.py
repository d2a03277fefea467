"""Time and memory of converting a full-size (about 1 GB) Caffe DeconvNet.

Writes a random `.caffemodel` with the layer set, names and V1 layout of
the authors' `DeconvNet_trainval_inference.caffemodel` (width 1.0, 21
classes: 251,805,653 values, about 1 GB) to a temporary folder, then, in
a fresh child process each so that peak memory is measured alone:

1. `model-only`: builds the Keras DeconvNet (the floor: the model itself
   holds 1 GB of weights);
2. `convert`: `convert_caffe_model` on the file (build + copy), then
   `model.save()` to `.keras`, checking one weight against the file.

Prints wall times and peak resident memory (VmHWM) of each step.

Usage:
    .venv/bin/python benchmarks/convert_caffe_full.py
    .venv/bin/python benchmarks/convert_caffe_full.py --width 0.25 --keep /tmp/x
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def peak_rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_model(path, width, num_classes, layer_format):
    import numpy as np

    from keras_deconvnet.caffe import write_caffemodel
    from keras_deconvnet.caffe.caffemodel_writer import random_blobs
    from keras_deconvnet.caffe.network_specs import deconvnet_layer_specs

    specs = deconvnet_layer_specs(num_classes, width)
    started = time.perf_counter()
    write_caffemodel(path, specs, random_blobs(np.random.default_rng(0)),
                     layer_format, name="DeconvNet_random")
    return time.perf_counter() - started


def child_model_only(width, num_classes):
    started = time.perf_counter()
    import keras_deconvnet

    imported = time.perf_counter()
    model = keras_deconvnet.DeconvNet(num_classes=num_classes, width=width)
    return {
        "import_s": imported - started,
        "build_s": time.perf_counter() - imported,
        "parameters": model.count_params(),
        "peak_rss_mib": peak_rss_mib(),
    }


def child_convert(path, out):
    import numpy as np

    started = time.perf_counter()
    from keras_deconvnet.caffe import convert_caffe_model
    from keras_deconvnet.caffe import read_caffemodel

    imported = time.perf_counter()
    model = convert_caffe_model(path, architecture="deconvnet",
                                progress=True)
    converted = time.perf_counter()
    peak_after_convert = peak_rss_mib()
    model.save(out)
    saved = time.perf_counter()
    fc6 = next(l for l in read_caffemodel(path).layers if l.name == "fc6")
    caffe_kernel = fc6.blobs[0].read()[:8]  # 8 output channels
    keras_kernel = model.get_layer("fc6").get_weights()[0][..., :8]
    assert np.array_equal(caffe_kernel.transpose(2, 3, 1, 0), keras_kernel)
    return {
        "import_s": imported - started,
        "convert_s": converted - imported,
        "save_s": saved - converted,
        "keras_file_mib": os.path.getsize(out) / 2**20,
        "parameters": model.count_params(),
        "peak_rss_after_convert_mib": peak_after_convert,
        "peak_rss_after_save_mib": peak_rss_mib(),
    }


def run_child(*arguments):
    output = subprocess.run(
        [sys.executable, os.path.abspath(__file__), *arguments],
        check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--num-classes", type=int, default=21)
    parser.add_argument("--format", choices=("V1", "layer"), default="V1")
    parser.add_argument("--keep", default=None,
                        help="folder to keep the files in (default: temp)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child[0] == "model-only":
            result = child_model_only(float(args.child[1]),
                                      int(args.child[2]))
        else:
            result = child_convert(args.child[1], args.child[2])
        print(json.dumps(result))
        return

    directory = args.keep or tempfile.mkdtemp(prefix="convert_caffe_")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "deconvnet_random.caffemodel")
    out = os.path.join(directory, "deconvnet_random.keras")
    try:
        seconds = write_model(path, args.width, args.num_classes, args.format)
        size = os.path.getsize(path) / 2**20
        print(f"wrote {path}: {size:,.0f} MiB ({args.format} layout, "
              f"width {args.width}) in {seconds:.1f} s", flush=True)
        floor = run_child("--child", "model-only", str(args.width),
                          str(args.num_classes))
        print(f"model-only: DeconvNet build {floor['build_s']:.1f} s, "
              f"{floor['parameters']:,} params, peak RSS "
              f"{floor['peak_rss_mib']:,.0f} MiB", flush=True)
        result = run_child("--child", "convert", path, out)
        print(f"convert: {result['convert_s']:.1f} s (build + read + copy), "
              f"peak RSS {result['peak_rss_after_convert_mib']:,.0f} MiB; "
              f"save .keras {result['save_s']:.1f} s "
              f"({result['keras_file_mib']:,.0f} MiB), peak RSS "
              f"{result['peak_rss_after_save_mib']:,.0f} MiB")
        print(f"caffemodel {size:,.0f} MiB; conversion peak RSS over the "
              f"model-only floor: "
              f"{result['peak_rss_after_convert_mib'] - floor['peak_rss_mib']:,.0f} MiB")
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
