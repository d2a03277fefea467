"""Evaluates a saved DeconvNet on a dataset split: per-class IoU, mIoU.

mIoU is accumulated over the whole split (one confusion matrix, the
ignore label skipped), as the PASCAL VOC devkit does. The model always
runs in inference mode. Prints a table and one JSON line; `--plots DIR`
writes a row-normalised confusion-matrix PNG.

Example:

    python training/evaluate.py --model saved_models/ --dataset folder \\
        --data-dir /work/shared/data/camvid --num-classes 11 \\
        --ignore-label 11 --split val --mode whole --plots plots/
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                    argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the examples' line breaks."""


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--model", default="saved_models",
                        help="a .keras file, model folder or preset name, "
                        "or a folder: the model its latest.json records")
    parser.add_argument("--dataset", default="synthetic",
                        choices=("voc", "sbd", "folder", "synthetic"),
                        help="dataset reader (see training/train.py)")
    parser.add_argument("--data-dir", default="data/synthetic",
                        help="dataset folder")
    parser.add_argument("--split", default="val",
                        help="split to score: train, val, test, ...")
    parser.add_argument("--image-dir", help="folder datasets: image folder")
    parser.add_argument("--label-dir", help="folder datasets: label folder")
    parser.add_argument("--num-classes", type=int,
                        help="number of classes (folder datasets)")
    parser.add_argument("--ignore-label", type=int,
                        help="label not scored (VOC 255, CamVid 11)")
    parser.add_argument("--class-names",
                        help="names for the table: a,b,c or a file of one "
                        "name per line (default: the model's stored names)")
    parser.add_argument("--mode", choices=("whole", "proposals"),
                        default="whole",
                        help="whole: image resized to the model input, "
                        "scores resized back; proposals: the paper's "
                        "EdgeBoxes crops, max-aggregated (Segmenter)")
    parser.add_argument("--num-proposals", type=int, default=50,
                        help="proposals mode: crops per image")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="images (whole) or crops (proposals) per "
                        "forward pass")
    parser.add_argument("--limit", type=int,
                        help="evaluate only the first N images")
    parser.add_argument("--plots", help="folder for confusion_matrix.png")
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


def main(argv=None):
    args = build_parser().parse_args(argv)
    import itertools

    import keras_deconvnet
    from keras_deconvnet import data
    from keras_deconvnet.evaluation import evaluate
    from keras_deconvnet.evaluation import plot_confusion_matrix

    try:
        # The model first: a wrong path fails before any data is read.
        model = keras_deconvnet.load(args.model)
        source = data.load_source(
            args.dataset, args.data_dir, args.split,
            num_classes=args.num_classes, ignore_label=args.ignore_label,
            image_dir=args.image_dir, label_dir=args.label_dir,
            class_names=args.class_names,
        )
        examples = data.evaluation_examples(source, progress=not args.quiet)
        count = len(source)
        if args.limit:
            examples = itertools.islice(examples, args.limit)
            count = min(count, args.limit)
        options = {}
        if args.mode == "proposals":
            options["num_proposals"] = args.num_proposals
        summary = evaluate(
            model, examples, source.num_classes, source.ignore_label,
            mode=args.mode, batch_size=args.batch_size, num_examples=count,
            progress=not args.quiet, **options,
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # Explicit --class-names, else the names stored in the model.
    class_names = (source.class_names if args.class_names
                   else keras_deconvnet.class_names_for(model, source))
    summary.update(model=args.model, dataset=args.dataset,
                   split=args.split, class_names=list(class_names))
    print(f"{args.dataset}/{args.split}: {summary['num_images']} images, "
          f"mode={args.mode} (input {summary['input_size']}), inference "
          "mode (BN moving statistics)")
    print(format_table(summary, class_names))
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        path = plot_confusion_matrix(
            summary["confusion_matrix"], class_names,
            os.path.join(args.plots, "confusion_matrix.png"),
            title=f"{args.dataset}/{args.split}, mIoU "
            f"{100 * summary['miou']:.1f}%",
        )
        print(f"Confusion matrix: {path}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(summary, file, indent=1)
    line = {key: value for key, value in summary.items()
            if key != "confusion_matrix"}
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
