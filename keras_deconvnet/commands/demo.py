"""`demo`: the main job end to end on an embedded default, no downloads.

Generates the synthetic VOC-format dataset, trains a small DeconvNet in
the paper's two stages (object crops, then proposal crops), evaluates it
in whole-image and proposal mode, segments a validation image with an
overlay, and exports the model for TF-Serving and LiteRT.
"""

import json
import os
import time

from keras_deconvnet.commands import command_parser


EXAMPLES = """
keras-deconvnet demo
keras-deconvnet demo --steps 30 --num-train 16 --skip-export
keras-deconvnet demo --out my_models --work-dir my_demo
"""


def build_parser():
    parser = command_parser(
        __doc__,
        EXAMPLES,
    )
    parser.add_argument(
        "--out", default="saved_models", help="where models are written"
    )
    parser.add_argument(
        "--work-dir",
        default="demo_output",
        help="generated dataset, pictures and metrics",
    )
    parser.add_argument(
        "--width", type=float, default=0.0625, help="channel multiplier"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=150,
        help="stage-1 training steps (3 epochs); stage 2 runs a third",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=0.03,
        help="SGD learning rate (the paper uses 0.01 from ImageNet weights; "
        "this short from-scratch run learns visibly faster at 0.03)",
    )
    parser.add_argument(
        "--num-train", type=int, default=48, help="synthetic training images"
    )
    parser.add_argument(
        "--num-val", type=int, default=8, help="synthetic validation images"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--skip-export",
        action="store_true",
        help="stop after segmenting (no SavedModel/TFLite export)",
    )
    return parser


class _Steps:
    """Prints each step's heading, and when it ends, how long it took."""

    def __init__(self, total):
        self.total = total
        self.started = None

    def start(self, number, text):
        self.end()
        print(f"\n[{number}/{self.total}] {text}", flush=True)
        self.started = time.perf_counter()

    def end(self):
        if self.started is not None:
            print(f"  ({time.perf_counter() - self.started:.0f} s)",
                  flush=True)
            self.started = None


def run(args):
    import numpy as np
    from PIL import Image

    import keras_deconvnet
    from keras_deconvnet import data
    from keras_deconvnet import evaluation
    from keras_deconvnet import visualization
    from keras_deconvnet.inference import Segmenter
    from keras_deconvnet.training.trainer import train

    started = time.perf_counter()
    steps = _Steps(6)
    os.makedirs(args.work_dir, exist_ok=True)
    dataset_dir = os.path.join(args.work_dir, "synthetic_voc")

    steps.start(1, f"Synthetic VOC-format dataset in {dataset_dir}")
    if not os.path.isdir(os.path.join(dataset_dir, "JPEGImages")):
        data.write_synthetic_voc(
            dataset_dir,
            num_train=args.num_train,
            num_val=args.num_val,
            seed=args.seed,
        )
    validation = data.load_source("synthetic", dataset_dir, "val")
    print(
        f"{validation.num_classes} classes, {len(validation)} validation "
        "images (VOC layout: JPEGImages, SegmentationClass/Object, ImageSets)"
    )

    common = dict(
        dataset="synthetic",
        data_dir=dataset_dir,
        width=args.width,
        batch_size=args.batch_size,
        steps_per_epoch=max(1, args.steps // 3),
        learning_rate=args.learning_rate,
        seed=args.seed,
        checkpoint_every=10,
        validation_steps=2,
        bn_examples=8 * args.batch_size,
        verbose=1,
    )
    steps.start(2, "Stage 1: object-centred crops from ground-truth instances")
    stage1 = train(
        stage=1,
        epochs=3,
        out_dir=os.path.join(args.out, "demo-stage1"),
        **common,
    )
    steps.start(3, "Stage 2: EdgeBoxes proposals overlapping an instance")
    stage2 = train(
        stage=2,
        epochs=1,
        init=stage1.model_path,
        out_dir=os.path.join(args.out, "demo-stage2"),
        **common,
    )
    model = keras_deconvnet.load(stage2.model_path)
    print(f"Trained model: {os.path.abspath(stage2.model_path)}")

    steps.start(4, "Evaluation on the validation split (inference mode)")
    metrics = {}
    for mode in ("whole", "proposals"):
        metrics[mode] = evaluation.evaluate(
            model,
            data.evaluation_examples(validation),
            validation.num_classes,
            validation.ignore_label,
            mode=mode,
            num_examples=len(validation),
        )
        print(
            f"  {mode:>9}: mIoU {metrics[mode]['miou']:.3f}, pixel accuracy "
            f"{metrics[mode]['pixel_accuracy']:.3f}"
        )
    with open(os.path.join(args.work_dir, "metrics.json"), "w") as file:
        json.dump(metrics, file, indent=2)

    steps.start(5, "Instance-wise segmentation of a validation image")
    example = validation.read(0)
    segmenter = Segmenter(model, num_proposals=50, aggregation="max")
    labels = segmenter.segment(example.image)
    label_path = os.path.join(args.work_dir, "segment_labels.png")
    overlay_path = os.path.join(args.work_dir, "segment_overlay.png")
    visualization.save_label_png(labels, label_path)
    picture = visualization.overlay(
        example.image, labels, class_names=validation.class_names
    )
    Image.fromarray(picture).save(overlay_path)
    print(
        f"{len(np.unique(labels))} classes found; overlay: "
        f"{os.path.abspath(overlay_path)}"
    )

    if not args.skip_export:
        from keras_deconvnet.export import export_saved_model
        from keras_deconvnet.export import export_tflite

        steps.start(6, "Export for TF-Serving and LiteRT")
        saved_model = export_saved_model(
            model, os.path.join(args.out, "deconvnet")
        )
        tflite = export_tflite(
            model, os.path.join(args.out, "deconvnet_demo.tflite")
        )
        print(f"SavedModel (predict_crops, segment): {os.path.abspath(saved_model)}")
        print(f"TFLite (builtin ops, float32): {os.path.abspath(tflite)}")

    steps.end()
    print(
        f"\nSaved model: {os.path.abspath(stage2.model_path)}\n"
        f"keras_deconvnet.load() now returns it. "
        f"Demo took {time.perf_counter() - started:.0f} s."
    )
    return 0


def main(argv=None):
    return run(build_parser().parse_args(argv))
