"""Runs the keras-deconvnet CPU benchmarks and writes their JSON.

Usage:

    python benchmarks/run.py {layers,model,segment,pipeline,all} \
        [--json FILE] [--quick]

Sections:
    layers    argmax pooling + unpooling of this package (plain graph and
              XLA) against `tf.nn.max_pool_with_argmax` + `tf.scatter_nd`
              and PyTorch's MaxPool2d/MaxUnpool2d, forward and
              forward+backward, on VGG-sized feature maps.
    model     first the user paths (`bench_user_paths`): the defaults, the
              best float32 settings and bf16 of this package and of
              PyTorch (channels-last, torch.compile, autocast), with the
              ratios; then the paper network (width 1.0, 224x224): forward crops/s at
              batch 1 and 8 and a training step, TensorFlow (graph, XLA,
              BatchNorm folded) beside the same network in PyTorch, with
              peak RSS.
    segment   one 500x375 image with 50 proposals through
              `keras_deconvnet.inference.Segmenter` and the exported
              `segment` signature; share of time outside the forward.
    pipeline  stage-1 and stage-2 examples/s of the tf.data pipeline on the
              synthetic dataset against the training step's consumption.

Every figure is a median of repeated runs after warm-up, and every ratio
compares candidates timed in interleaved rounds of the same run. A part
whose modules are missing prints "not available" instead of failing.
"""

import argparse
import json
import os
import sys
import time

BENCHMARK_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCHMARK_DIR)
sys.path.insert(1, os.path.dirname(BENCHMARK_DIR))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# PyTorch's OpenMP threads spin at barriers by default; on a shared,
# oversubscribed machine a preempted spinner stalls the others (measured
# here: a small network 20x slower with 2 threads). Passive waiting keeps
# the reference fair; set OMP_WAIT_POLICY=ACTIVE on an idle machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SECTIONS = ("layers", "model", "segment", "pipeline")


def parse_shape(text):
    try:
        shape = tuple(int(value) for value in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1 or shape[1] % 2 or shape[2] % 2:
        raise argparse.ArgumentTypeError(
            "a layer shape is BATCH,HEIGHT,WIDTH,CHANNELS with even height "
            f"and width. Received: {text!r}"
        )
    return shape


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="See benchmarks/README.md for what each figure means.",
    )
    parser.add_argument("section", choices=SECTIONS + ("all",))
    parser.add_argument("--json", metavar="FILE",
                        help="write all results to FILE as JSON")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and sizes (a fast smoke run)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds per figure (default 5, quick 2)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed calls first (default 2, quick 1)")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads for TensorFlow and PyTorch "
                        "(0: the frameworks' defaults, all cores)")
    parser.add_argument("--no-torch", action="store_true",
                        help="skip the PyTorch reference even if installed")
    parser.add_argument("--layer-shape", dest="layer_shapes",
                        type=parse_shape, action="append",
                        help="B,H,W,C of a layers benchmark (repeatable; "
                        "default 8,112,112,128 and 8,56,56,256)")
    parser.add_argument("--width", type=float, default=1.0,
                        help="model section: channel multiplier (1.0 = "
                        "the paper network)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                        help="model section: forward batch sizes "
                        "(default 1 8, quick 1)")
    parser.add_argument("--train-batch-size", type=int, default=8,
                        help="model and pipeline sections: training batch")
    parser.add_argument("--paths-batch", type=int, default=8,
                        help="model section: batch of the user paths")
    parser.add_argument("--paths-repeats", type=int, default=3,
                        help="model section: timed rounds of the user paths")
    parser.add_argument("--paths-only", action="store_true",
                        help="model section: only the user paths")
    parser.add_argument("--no-torch-compile", action="store_true",
                        help="model section: no torch.compile in the "
                        "PyTorch best path")
    parser.add_argument("--no-training", action="store_true",
                        help="model section: forward only")
    parser.add_argument("--no-xla-training", action="store_true",
                        help="model section: skip the XLA training step")
    parser.add_argument("--segment-width", type=float, default=0.25,
                        help="segment section: width of the network")
    parser.add_argument("--pipeline-width", type=float, default=0.25,
                        help="pipeline section: width of the training step")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    if args.batch_sizes is None:
        args.batch_sizes = [1] if args.quick else [1, 8]
    return args


def configure_threads(threads):
    """Applies `--threads` before TensorFlow creates its thread pools."""
    if threads <= 0:
        return
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def torch_is_available(args):
    if args.no_torch:
        return False
    try:
        import torch
    except ImportError:
        return False
    torch.set_num_threads(args.threads or os.cpu_count())
    return True


def main(argv=None):
    args = parse_args(argv)
    configure_threads(args.threads)
    import common

    torch_available = torch_is_available(args)
    sections = SECTIONS if args.section == "all" else (args.section,)
    started = time.perf_counter()
    report = {
        "machine": common.machine_info(),
        "settings": {
            key: value for key, value in vars(args).items()
            if key not in ("json",)
        },
        "environment": {
            key: os.environ.get(key) for key in (
                "TF_ENABLE_ONEDNN_OPTS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY",
                "KERAS_BACKEND",
                "TF_XLA_FLAGS",
            )
        },
        "sections": {},
    }
    runs = [name for section in sections for name in (
        ("user_paths", "model") if section == "model" else (section,))]
    if args.paths_only and "model" in runs:
        runs.remove("model")
    for name in runs:
        module = __import__(f"bench_{name}")
        section_started = time.perf_counter()
        section = module.run(args, torch_available)
        result = section.to_json()
        result["seconds"] = time.perf_counter() - section_started
        report["sections"][name] = result
        if args.json:  # written after every section, so a kill keeps some
            write_json(args.json, report)
    report["total_seconds"] = time.perf_counter() - started
    print(f"total: {report['total_seconds']:.0f} s")
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")
    return report


def write_json(path, report):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w") as file:
        json.dump(report, file, indent=2, default=str)


if __name__ == "__main__":
    main()
