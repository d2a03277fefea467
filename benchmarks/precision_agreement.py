"""A faster network against float32 on a trained model: accuracy, agreement.

Runs a `Segmenter` of the model as trained (float32) and one of a faster
variant on every image, and reports each one's mIoU, pixel accuracy and
per-class IoU, the share of pixels whose label is the same in both
(argmax agreement) and the seconds each spent. The variant
(`--against`) is `bfloat16` (`Segmenter(precision="bfloat16")`, the
default) or `winograd` (float32, the model through
`models.optimize_for_inference(model, winograd=True)`: BN folded and
Winograd 3x3 convolutions; `--winograd-min-channels 1` converts the
layers of narrow models too, to measure Winograd's rounding on trained
weights). Random weights make near ties everywhere, so measure a trained
model:

    python benchmarks/precision_agreement.py --model OUT/deconvnet.keras \\
        --dataset folder --data-dir $KERAS_DECONVNET_CAMVID --mode tiles \\
        [--against winograd] --json benchmarks/results/precision_camvid.json

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

VARIANTS = ("bfloat16", "winograd")


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
    parser.add_argument("--against", choices=VARIANTS, default="bfloat16",
                        help="the variant compared with float32")
    parser.add_argument("--winograd-min-channels", type=int,
                        help="winograd: convert layers with this many input "
                             "channels or more (default: "
                             "optimize_for_inference's)")
    parser.add_argument("--limit", type=int,
                        help="score only the first LIMIT images")
    parser.add_argument("--json", help="write the results here")
    return parser.parse_args(argv)


def variant_segmenters(model, against, mode, winograd_min_channels=None,
                       **segmenter_options):
    """`{"float32": ..., against: ...}` Segmenters of `model`."""
    from keras_deconvnet.inference import Segmenter
    from keras_deconvnet.models import optimize_for_inference
    from keras_deconvnet.models.inference_model import WINOGRAD_MIN_CHANNELS
    from keras_deconvnet.models.inference_model import winograd_convolutions

    if against not in VARIANTS:
        raise ValueError(f"`against` must be one of {VARIANTS}. "
                         f"Received: against={against!r}")
    if against == "bfloat16":
        variant = Segmenter(model, mode=mode, precision="bfloat16",
                            **segmenter_options)
    else:
        optimized = winograd_convolutions(
            optimize_for_inference(model, winograd=False),
            min_channels=winograd_min_channels or WINOGRAD_MIN_CHANNELS)
        variant = Segmenter(optimized, mode=mode, **segmenter_options)
    return {"float32": Segmenter(model, mode=mode, **segmenter_options),
            against: variant}


def compare(model, examples, mode, limit=None, against="bfloat16",
            winograd_min_channels=None, **segmenter_options):
    """Scores `examples` with float32 and `against`; returns the summary."""
    from tqdm.auto import tqdm

    import keras_deconvnet
    from keras_deconvnet.metrics import ConfusionMatrix

    info = keras_deconvnet.metadata(model)
    segmenters = variant_segmenters(model, against, mode,
                                    winograd_min_channels,
                                    **segmenter_options)
    matrices = {variant: ConfusionMatrix(info["num_classes"],
                                         info["ignore_label"])
                for variant in segmenters}
    seconds = dict.fromkeys(segmenters, 0.0)
    same = total = count = 0
    for image, label in tqdm(examples, total=limit, unit="image",
                             desc=f"float32 vs {against} ({mode})"):
        labels = {}
        for variant, segmenter in segmenters.items():
            started = time.perf_counter()
            labels[variant] = segmenter.segment(image)
            if count:  # the first image pays the tracing
                seconds[variant] += time.perf_counter() - started
            matrices[variant].update(np.asarray(label), labels[variant])
        same += int(np.sum(labels["float32"] == labels[against]))
        total += labels["float32"].size
        count += 1
        if limit and count >= limit:
            break
    results = {}
    for variant in segmenters:
        summary = matrices[variant].summary()
        results[variant] = {
            "miou": summary["miou"],
            "pixel_accuracy": summary["pixel_accuracy"],
            "mean_class_accuracy": summary["mean_class_accuracy"],
            "class_iou": dict(zip(info["class_names"], summary["per_class_iou"])),
            "seconds_per_image": seconds[variant] / max(count - 1, 1),
        }
    used = segmenters["float32"]
    settings = dict(segmenter_options)
    if mode == "tiles":  # as given, else the model's own
        settings.update(tile_scale=list(used.tile_scale),
                        tile_overlap=used.tile_overlap)
    converted = [layer.name for layer in segmenters[against].model.layers
                 if type(layer).__name__ == "WinogradConv2D"]
    return {"mode": mode, "against": against, "num_images": count,
            "segmenter_options": settings, "winograd_layers": converted,
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
                     limit=args.limit or len(source), against=args.against,
                     winograd_min_channels=args.winograd_min_channels)
    result.update(model=os.path.basename(args.model), split=args.split,
                  cpu_bf16=cpu_bf16_support(),
                  machine=machine_info())
    for variant in ("float32", args.against):
        row = result[variant]
        print(f"{variant:>9}: mIoU {row['miou']:.4f}, pixel accuracy "
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
