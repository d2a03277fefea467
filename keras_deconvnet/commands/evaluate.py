"""Evaluates a saved DeconvNet on a dataset split: per-class IoU, mIoU.

The `evaluate` command (`keras-deconvnet evaluate`, or the script
`training/evaluate.py`).

mIoU is accumulated over the whole split (one confusion matrix, the
ignore label skipped), as the PASCAL VOC devkit does. The model always
runs in inference mode, in one of three modes: whole (resized image),
tiles (overlapping windows at --tile-scale, probabilities averaged) or
proposals (the paper's EdgeBoxes crops). With --fcn the FCN-8s on the
whole image is ensembled with it (EDeconvNet). Prints per-class IoU by
class name and one JSON line; `--plots DIR` writes a row-normalised
confusion matrix and a per-class IoU bar chart.

Examples:

    keras-deconvnet evaluate --model saved_models/ --dataset folder \\
        --data-dir data/camvid --num-classes 11 --ignore-label 11 \\
        --split val --mode tiles --tile-scale 0.75 1.0 --plots plots/

    keras-deconvnet evaluate --model deconvnet.keras --fcn fcn8s.keras \\
        --ensemble mean --mode tiles ...
"""

import argparse
import json
import os
import sys

from keras_deconvnet.commands import DefaultsHelpFormatter
from keras_deconvnet.commands import add_network_speed_arguments
from keras_deconvnet.data.registry import SOURCE_NAMES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--model", default="saved_models",
                        help="a .keras file, model folder or preset name, "
                        "or a folder: the model its latest.json records")
    parser.add_argument("--dataset", default="synthetic",
                        choices=SOURCE_NAMES,
                        help="dataset reader (see keras-deconvnet train)")
    parser.add_argument("--data-dir", default="data/synthetic",
                        help="dataset folder")
    parser.add_argument("--split", default="val",
                        help="split to score: train, val, test, ...")
    parser.add_argument("--image-dir", help="folder datasets: image folder")
    parser.add_argument("--label-dir", help="folder datasets: label folder")
    parser.add_argument("--num-classes", type=int,
                        help="number of classes (folder datasets; default: "
                        "the classes the model scores)")
    parser.add_argument("--ignore-label", type=int,
                        help="label not scored (VOC 255, CamVid 11)")
    parser.add_argument("--class-names",
                        help="names for the table: a,b,c or a file of one "
                        "name per line (default: the model's stored names)")
    parser.add_argument("--mode", choices=("whole", "tiles", "proposals"),
                        default="whole",
                        help="whole: image resized to the model input, "
                        "scores resized back; tiles: overlapping windows, "
                        "probabilities averaged; proposals: the paper's "
                        "EdgeBoxes crops, max-aggregated")
    parser.add_argument("--tile-scale", type=float, nargs="+",
                        help="tiles mode: one or more scales; a window "
                        "covers input/scale pixels (default: the model's "
                        "metadata, else the package default)")
    parser.add_argument("--tile-overlap", type=float,
                        help="tiles mode: overlap fraction of neighbouring "
                        "windows (default: the model's metadata, else the "
                        "package default)")
    parser.add_argument("--aggregation", choices=("max", "sum", "mean"),
                        help="per-pixel combination of boxes (default: "
                        "mean for tiles, max otherwise)")
    parser.add_argument("--num-proposals", type=int, default=50,
                        help="proposals mode: crops per image")
    parser.add_argument("--edge-model",
                        help="proposals mode: OpenCV structured edge model "
                        "(model.yml.gz) for EdgeBoxes; default "
                        "$KERAS_DECONVNET_EDGE_MODEL, else gradient edges")
    parser.add_argument("--fcn", help="FCN-8s model (.keras): score the "
                        "EDeconvNet ensemble with it")
    parser.add_argument("--ensemble", choices=("mean", "product"),
                        default="mean",
                        help="with --fcn: mean of probabilities (paper) or "
                        "product of rectified scores (authors' code)")
    parser.add_argument("--fcn-mode", choices=("whole", "tiles"),
                        default="whole",
                        help="with --fcn: run it on the whole resized image "
                        "(paper) or on the tiles of --tile-scale / "
                        "--tile-overlap (default: the model's)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="crops per forward pass")
    add_network_speed_arguments(parser)
    parser.add_argument("--limit", type=int,
                        help="evaluate only the first N images")
    parser.add_argument("--plots", help="folder for confusion_matrix.png "
                        "and per_class_iou.png")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar")
    return parser


def format_table(summary, class_names):
    lines = [f"{'class':<16} {'IoU':>7}", "-" * 24]
    for name, iou in zip(class_names, summary["per_class_iou"]):
        value = "    n/a" if iou is None else f"{100 * iou:6.2f}%"
        lines.append(f"{name:<16} {value:>7}")
    lines += [
        "-" * 24,
        f"{'mean IoU':<16} {100 * summary['miou']:6.2f}%",
        f"{'pixel accuracy':<16} {100 * summary['pixel_accuracy']:6.2f}%",
        f"{'mean class acc.':<16} "
        f"{100 * summary['mean_class_accuracy']:6.2f}%",
    ]
    return "\n".join(lines)


def model_settings(model, names):
    """The model's metadata entries `names` (empty without metadata)."""
    import keras_deconvnet

    metadata = getattr(keras_deconvnet, "metadata", None)
    try:
        found = metadata(model) if metadata is not None else None
    except (ValueError, KeyError, TypeError, AttributeError):
        found = None
    found = found or {}
    return {name: found[name] for name in names if found.get(name) is not None}


def segmenter_options(args):
    """`Segmenter` options from the flags (`Segmenter` takes the tile
    settings not given from the model's metadata)."""
    options = {"ensemble": args.ensemble, "fcn_mode": args.fcn_mode}
    if args.precision:
        options["precision"] = args.precision
    if args.optimize:
        options["optimize"] = True
    if args.aggregation:
        options["aggregation"] = args.aggregation
    if args.mode == "proposals":
        options.update(num_proposals=args.num_proposals,
                       edge_model=args.edge_model)
    if args.mode == "tiles":
        if args.tile_scale:
            options["tile_scale"] = args.tile_scale
        if args.tile_overlap is not None:
            options["tile_overlap"] = args.tile_overlap
    return options


def write_plots(folder, summary, class_names, title):
    from keras_deconvnet.evaluation import plot_confusion_matrix
    from keras_deconvnet.evaluation import plot_per_class_iou

    os.makedirs(folder, exist_ok=True)
    path = plot_confusion_matrix(
        summary["confusion_matrix"], class_names,
        os.path.join(folder, "confusion_matrix.png"), title=title,
    )
    print(f"Confusion matrix: {path}")
    path = plot_per_class_iou(
        summary["per_class_iou"], class_names,
        os.path.join(folder, "per_class_iou.png"), title=title,
        mean_iou=summary["miou"],
    )
    print(f"Per-class IoU: {path}")


def describe(args, summary):
    """One line: what was scored and how."""
    how = f"mode={args.mode} (input {summary['input_size']}"
    if args.mode == "tiles":
        scales = " ".join(f"{scale:g}" for scale in summary["tile_scale"])
        how += f", tile scale {scales}, overlap {summary['tile_overlap']:g}"
    if args.mode == "proposals":
        how += f", {summary['edge_map']} edges"
    how += ")"
    if args.fcn:
        how += (f" + FCN-8s {args.fcn} ({args.fcn_mode}), "
                f"ensemble={args.ensemble}")
    return (f"{args.dataset}/{args.split}: {summary['num_images']} images, "
            f"{how}, inference mode (BN moving statistics)")


def main(argv=None):
    args = build_parser().parse_args(argv)
    import itertools

    import keras_deconvnet
    from keras_deconvnet import data
    from keras_deconvnet.evaluation import evaluate

    try:
        # The models first: a wrong path fails before any data is read.
        model = keras_deconvnet.load(args.model)
        fcn = keras_deconvnet.load(args.fcn) if args.fcn else None
        num_classes, ignore_label = args.num_classes, args.ignore_label
        if args.dataset == "folder":
            # By default the classes the model scores, and its metadata's
            # ignore label when it has one.
            if num_classes is None:
                num_classes = int(model.outputs[0].shape[-1])
            if ignore_label is None:
                ignore_label = model_settings(
                    model, ("ignore_label",)).get("ignore_label")
        source = data.load_source(
            args.dataset, args.data_dir, args.split,
            num_classes=num_classes, ignore_label=ignore_label,
            image_dir=args.image_dir, label_dir=args.label_dir,
            class_names=args.class_names,
        )
        examples = data.evaluation_examples(source, progress=not args.quiet)
        count = len(source)
        if args.limit:
            examples = itertools.islice(examples, args.limit)
            count = min(count, args.limit)
        summary = evaluate(
            model, examples, source.num_classes, source.ignore_label,
            mode=args.mode, batch_size=args.batch_size, num_examples=count,
            progress=not args.quiet, fcn=fcn,
            **segmenter_options(args),
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # Explicit --class-names, else the names stored in the model.
    class_names = (source.class_names if args.class_names
                   else keras_deconvnet.class_names_for(model, source))
    summary.update(model=args.model, dataset=args.dataset,
                   split=args.split, class_names=list(class_names))
    if args.fcn:
        summary["fcn"] = args.fcn
    print(describe(args, summary))
    print(format_table(summary, class_names))
    if args.plots:
        write_plots(args.plots, summary, class_names,
                    title=f"{args.dataset}/{args.split} ({args.mode}"
                    f"{', + FCN-8s' if args.fcn else ''}), mIoU "
                    f"{100 * summary['miou']:.1f}%")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(summary, file, indent=1)
    line = {key: value for key, value in summary.items()
            if key != "confusion_matrix"}
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
