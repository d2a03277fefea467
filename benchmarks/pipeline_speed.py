"""Examples/s of the tf.data training pipeline alone (no model).

Times `keras_deconvnet.data.training_dataset` for stage 1 (`objects`),
stage 2 (`proposals`, with the proposal cache already warm: the one-off
proposal computation is timed and reported separately) and `whole`, on
the synthetic VOC-format dataset and on CamVid when present.

Usage:

    python benchmarks/pipeline_speed.py [--dataset synthetic camvid]
        [--batch-size 16] [--batches 30] [--rounds 3] [--max-images 60]

Each (dataset, mode) runs with decoded images kept in memory
(`cache_examples=None`, automatic up to 1 GiB) and decoded for every crop
(`cache_examples=False`). Prints one row each and a JSON line at the end.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# SegNet's CamVid folder (train/, trainannot/, ...), when the variable is set.
CAMVID = os.environ.get("KERAS_DECONVNET_CAMVID", "")
MODES = ("objects", "proposals", "whole")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset",
        nargs="+",
        default=["synthetic", "camvid"],
        choices=["synthetic", "camvid"],
        help="datasets to time",
    )
    parser.add_argument(
        "--modes", nargs="+", default=list(MODES), choices=MODES
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--batches", type=int, default=30, help="timed batches per mode"
    )
    parser.add_argument(
        "--warmup", type=int, default=5, help="untimed batches first"
    )
    parser.add_argument(
        "--max-images",
        type=int,
        default=60,
        help="images used per dataset (stage-2 proposals cost ~0.3 s each)",
    )
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed rounds (median)"
    )
    parser.add_argument(
        "--camvid-dir", default=CAMVID,
        help="CamVid folder (default: $KERAS_DECONVNET_CAMVID)",
    )
    return parser.parse_args(argv)


def load(name, args, scratch):
    from keras_deconvnet.data import load_source
    from keras_deconvnet.data import write_synthetic_voc

    if name == "synthetic":
        root = os.path.join(scratch, "synthetic")
        started = time.perf_counter()
        write_synthetic_voc(root, num_train=args.max_images, num_val=0)
        print(
            f"synthetic: wrote {args.max_images} 320x320 images in "
            f"{time.perf_counter() - started:.1f} s"
        )
        source = load_source("synthetic", root, "train")
    else:
        if not args.camvid_dir or not os.path.isdir(args.camvid_dir):
            print(f"camvid: not found at '{args.camvid_dir}' (set "
                  "--camvid-dir or KERAS_DECONVNET_CAMVID), skipped")
            return None
        source = load_source(
            "folder", args.camvid_dir, "train", num_classes=11, ignore_label=11
        )
    source = source.subset(range(min(args.max_images, len(source))))
    started = time.perf_counter()
    source.validate(progress=False)
    print(
        f"{name}: validated {len(source)} images in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return source


def time_mode(source, mode, cache_examples, args, cache_dir):
    """Median examples/s over `args.rounds` fresh iterators."""
    from keras_deconvnet.data import training_dataset

    def build():
        return training_dataset(
            source,
            crops=mode,
            batch_size=args.batch_size,
            input_size=args.input_size,
            seed=0,
            cache_dir=cache_dir,
            progress=False,
            cache_examples=cache_examples,
        )

    fill_seconds = None
    if mode == "proposals":  # Warm the cache; report its one-off cost.
        started = time.perf_counter()
        build()
        fill_seconds = time.perf_counter() - started
    rates = []
    for _ in range(args.rounds):
        dataset = build()
        iterator = iter(dataset)
        for _ in range(args.warmup):
            next(iterator)
        started = time.perf_counter()
        for _ in range(args.batches):
            next(iterator)
        seconds = time.perf_counter() - started
        rates.append(args.batches * args.batch_size / seconds)
        del iterator
    return {
        "crops": dataset.crop_count,
        "examples_per_s": float(np.median(rates)),
        "rounds": [round(rate, 1) for rate in rates],
        "proposal_cache_fill_s": fill_seconds,
    }


def main(argv=None):
    args = parse_args(argv)
    results = []
    caching = {"decoded cached": None, "decoded each time": False}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.dataset:
            source = load(name, args, scratch)
            if source is None:
                continue
            for mode in args.modes:
                for cache_name, cache_examples in caching.items():
                    result = time_mode(
                        source,
                        mode,
                        cache_examples,
                        args,
                        os.path.join(scratch, f"cache_{name}"),
                    )
                    result.update(
                        dataset=name,
                        mode=mode,
                        images=len(source),
                        images_in_memory=cache_name,
                    )
                    results.append(result)
                    fill = result["proposal_cache_fill_s"]
                    extra = f"; cache filled in {fill:.1f} s" if fill else ""
                    print(
                        f"{name:9s} {mode:9s} {cache_name:17s} "
                        f"{result['examples_per_s']:7.1f} examples/s "
                        f"(median of {result['rounds']}; "
                        f"{result['crops']} crops from {len(source)} images"
                        f"{extra})"
                    )
    print(
        json.dumps(
            {
                "pipeline_speed": results,
                "cpus": os.cpu_count(),
                "batch_size": args.batch_size,
                "input_size": args.input_size,
                "load_average": os.getloadavg(),
            }
        )
    )
    return results


if __name__ == "__main__":
    main()
