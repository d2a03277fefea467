"""bfloat16 against float32 inference on a trained model: accuracy, agreement.

Runs the same `Segmenter` twice per image, once in float32 and once with
`precision="bfloat16"`, and reports each one's mIoU, pixel accuracy and
per-class IoU, the share of pixels whose label is the same in both
(argmax agreement) and the seconds each spent. Random weights make near
ties everywhere, so measure a trained model:

    python benchmarks/precision_agreement.py --model OUT/deconvnet.keras \\
        --dataset folder --data-dir $KERAS_DECONVNET_CAMVID --mode tiles \\
        --json benchmarks/results/precision_camvid.json

Class count, ignore label, class names and tile settings come from the
model's metadata. The CPU model and its bf16 support go with the numbers.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PRECISIONS = ("float32", "bfloat16")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True,
                        help="a trained .keras model (or a model folder)")
    parser.add_argument("--dataset", default="folder",
                        help="dataset reader (keras-deconvnet train --help)")
    parser.add_argument("--data-dir", required=True, help="dataset folder")
    parser.add_argument("--split", default="val")
    parser.add_argument("--mode", choices=("whole", "tiles"),
                        default="whole")
    parser.add_argument("--limit", type=int,
                        help="score only the first LIMIT images")
    parser.add_argument("--json", help="write the results here")
    return parser.parse_args(argv)


def compare(model, examples, mode, limit=None, **segmenter_options):
    """Scores `examples` with both precisions; returns the summary dict."""
    from tqdm.auto import tqdm

    import keras_deconvnet
    from keras_deconvnet.inference import Segmenter
    from keras_deconvnet.metrics import ConfusionMatrix

    info = keras_deconvnet.metadata(model)
    segmenters = {precision: Segmenter(model, mode=mode, precision=precision,
                                       **segmenter_options)
                  for precision in PRECISIONS}
    matrices = {precision: ConfusionMatrix(info["num_classes"],
                                           info["ignore_label"])
                for precision in PRECISIONS}
    seconds = dict.fromkeys(PRECISIONS, 0.0)
    same = total = count = 0
    for image, label in tqdm(examples, total=limit, unit="image",
                             desc=f"float32 vs bfloat16 ({mode})"):
        labels = {}
        for precision, segmenter in segmenters.items():
            started = time.perf_counter()
            labels[precision] = segmenter.segment(image)
            if count:  # the first image pays the tracing
                seconds[precision] += time.perf_counter() - started
            matrices[precision].update(np.asarray(label), labels[precision])
        same += int(np.sum(labels["float32"] == labels["bfloat16"]))
        total += labels["float32"].size
        count += 1
        if limit and count >= limit:
            break
    results = {}
    for precision in PRECISIONS:
        summary = matrices[precision].summary()
        results[precision] = {
            "miou": summary["miou"],
            "pixel_accuracy": summary["pixel_accuracy"],
            "mean_class_accuracy": summary["mean_class_accuracy"],
            "class_iou": dict(zip(info["class_names"], summary["per_class_iou"])),
            "seconds_per_image": seconds[precision] / max(count - 1, 1),
        }
    used = segmenters["float32"]
    settings = dict(segmenter_options)
    if mode == "tiles":  # as given, else the model's own
        settings.update(tile_scale=list(used.tile_scale),
                        tile_overlap=used.tile_overlap)
    return {"mode": mode, "num_images": count, "segmenter_options": settings,
            "argmax_agreement": same / max(total, 1), **results}


def main(argv=None):
    args = parse_args(argv)
    import keras_deconvnet
    from benchmarks.common import machine_info
    from keras_deconvnet import data
    from keras_deconvnet.inference.forward import cpu_bf16_support

    model = keras_deconvnet.load(args.model)
    info = keras_deconvnet.metadata(model)
    source = data.load_source(args.dataset, args.data_dir, args.split,
                              num_classes=info["num_classes"],
                              ignore_label=info["ignore_label"])
    result = compare(model, data.evaluation_examples(source), args.mode,
                     limit=args.limit or len(source))
    result.update(model=os.path.basename(args.model), split=args.split,
                  cpu_bf16=cpu_bf16_support(),
                  machine=machine_info())
    for precision in PRECISIONS:
        row = result[precision]
        print(f"{precision:>9}: mIoU {row['miou']:.4f}, pixel accuracy "
              f"{row['pixel_accuracy']:.4f}, "
              f"{row['seconds_per_image']:.2f} s/image")
    print(f"argmax agreement {100 * result['argmax_agreement']:.2f}% over "
          f"{result['num_images']} images; CPU "
          f"{result['machine']['processor']} (bf16: {result['cpu_bf16']})")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(result, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
