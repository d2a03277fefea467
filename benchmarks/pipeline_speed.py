"""Examples/s of the tf.data training pipeline alone (no model).

Times `keras_deconvnet.data.training_dataset` for stage 1 (`objects`),
stage 2 (`proposals`, with the proposal cache already warm: the one-off
proposal computation is timed and reported separately) and `whole`, on
the synthetic VOC-format dataset and on CamVid when present.

Usage:

    python benchmarks/pipeline_speed.py [--dataset synthetic camvid]
        [--batch-size 16] [--batches 30] [--max-images 60]

Prints one table row per (dataset, mode) and a JSON line at the end.
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CAMVID = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "camvid"
)
MODES = ("objects", "proposals", "whole")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset", nargs="+", default=["synthetic", "camvid"],
        choices=["synthetic", "camvid"], help="datasets to time",
    )
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--batches", type=int, default=30, help="timed batches per mode"
    )
    parser.add_argument(
        "--warmup", type=int, default=5, help="untimed batches first"
    )
    parser.add_argument(
        "--max-images", type=int, default=60,
        help="images used per dataset (stage-2 proposals cost ~0.3 s each)",
    )
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument(
        "--no-cache-examples", action="store_true",
        help="decode every crop's image again (training_dataset's "
        "cache_examples=False; default: auto, in memory up to 1 GiB)",
    )
    parser.add_argument("--camvid-dir", default=os.path.normpath(CAMVID))
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
        if not os.path.isdir(args.camvid_dir):
            print(f"camvid: not found at {args.camvid_dir}, skipped")
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


def time_mode(source, mode, args, cache_dir):
    from keras_deconvnet.data import training_dataset

    def build():
        return training_dataset(
            source, crops=mode, batch_size=args.batch_size,
            input_size=args.input_size, seed=0, cache_dir=cache_dir,
            progress=False, cache_examples=False if args.no_cache_examples else None,
        )

    setup = None
    if mode == "proposals":  # Warm the cache; report its one-off cost.
        started = time.perf_counter()
        build()
        setup = time.perf_counter() - started
    started = time.perf_counter()
    dataset = build()
    build_seconds = time.perf_counter() - started
    iterator = iter(dataset)
    for _ in range(args.warmup):
        next(iterator)
    started = time.perf_counter()
    for _ in range(args.batches):
        next(iterator)
    seconds = time.perf_counter() - started
    return {
        "crops": dataset.crop_count,
        "examples_per_s": args.batches * args.batch_size / seconds,
        "build_s": build_seconds,
        "proposal_cache_fill_s": setup,
    }


def main(argv=None):
    args = parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.dataset:
            source = load(name, args, scratch)
            if source is None:
                continue
            for mode in args.modes:
                result = time_mode(
                    source, mode, args, os.path.join(scratch, f"cache_{name}")
                )
                result.update(dataset=name, mode=mode, images=len(source))
                results.append(result)
                fill = result["proposal_cache_fill_s"]
                extra = f", cache filled once in {fill:.1f} s" if fill else ""
                print(
                    f"{name:9s} {mode:9s} {result['examples_per_s']:7.1f} "
                    f"examples/s ({result['crops']} crops from "
                    f"{len(source)} images, batch {args.batch_size}, "
                    f"{args.input_size}x{args.input_size}{extra})"
                )
    print(json.dumps({"pipeline_speed": results, "cpus": os.cpu_count()}))
    return results


if __name__ == "__main__":
    main()
