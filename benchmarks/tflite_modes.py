"""Size, CPU latency and accuracy of the TFLite quantisation modes.

Trains a tiny DeconvNet briefly on the synthetic VOC-format dataset (plain
`model.fit` on whole 224x224 images, Adam, the ignore-label cross-entropy,
then BatchNormalization statistics re-estimated over the training images
so that inference mode is right), exports it in the four modes of
`keras_deconvnet.export.export_tflite`, and runs each in LiteRT
(`ai_edge_litert`) on the synthetic validation images:

    python benchmarks/tflite_modes.py [--epochs 30] [--width 0.0625]

Prints a Markdown table: file size, median latency of one 224x224 image
(batch 1, `--threads` interpreter threads), mIoU and its change against
float32, and the share of pixels whose label differs from float32.
Numbers depend on the machine and its load; the command and the machine
go with them.
"""

import argparse
import os
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODES = ("none", "float16", "dynamic", "int8")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--data-dir", default=None,
        help="synthetic data folder (default: a temporary one)")
    add("--num-train", type=int, default=160)
    add("--num-val", type=int, default=40)
    add("--width", type=float, default=0.0625)
    add("--epochs", type=int, default=30)
    add("--batch-size", type=int, default=8)
    add("--learning-rate", type=float, default=3e-3)
    add("--threads", type=int, default=2, help="LiteRT threads")
    add("--repeats", type=int, default=20, help="timed runs per mode")
    add("--out-dir", default=None,
        help="where the .tflite files go (default: temporary)")
    add("--seed", type=int, default=0)
    add("--save-model", default=None,
        help="also save the trained .keras model here")
    add("--model", default=None,
        help="skip training: benchmark this .keras model")
    return parser.parse_args(argv)


def load_split(data_dir, split):
    from keras_deconvnet.data import load_source

    source = load_source("synthetic", data_dir, split)
    examples = [source.read(index, instances=False) for index in range(len(source))]
    images = np.stack([example.image for example in examples]).astype("float32")
    labels = np.stack([example.label for example in examples]).astype("int32")
    return images, labels


def mean_iou(predictions, labels, num_classes=21):
    from keras_deconvnet.metrics import ConfusionMatrix

    matrix = ConfusionMatrix(num_classes, ignore_label=255)
    matrix.update(labels, predictions)
    return matrix.mean_iou()


def train(args, train_images, train_labels):
    import keras

    import keras_deconvnet
    from keras_deconvnet.training.batch_norm_statistics import (
        reestimate_batch_norm_statistics,
    )
    from keras_deconvnet.training.losses import SegmentationCrossEntropy

    keras.utils.set_random_seed(args.seed)
    model = keras_deconvnet.DeconvNet(num_classes=21, width=args.width)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss=SegmentationCrossEntropy(ignore_label=255),
    )
    started = time.perf_counter()
    model.fit(
        train_images,
        train_labels,
        batch_size=args.batch_size,
        epochs=args.epochs,
        verbose=2,
    )
    batches = [
        train_images[start : start + args.batch_size]
        for start in range(0, len(train_images), args.batch_size)
    ]
    reestimate_batch_norm_statistics(model, batches, progress=False)
    print(f"Trained in {time.perf_counter() - started:.0f} s.")
    return model


def litert_predict(path, images, threads):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path, num_threads=threads).get_signature_runner()
    return np.concatenate([runner(images=image[None])["scores"] for image in images])


def litert_latency(path, image, threads, repeats):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path, num_threads=threads).get_signature_runner()
    runner(images=image[None])  # Warm-up.
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        runner(images=image[None])
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main(argv=None):
    args = parse_args(argv)
    import keras
    from tqdm.auto import tqdm

    from keras_deconvnet.data.synthetic import write_synthetic_voc
    from keras_deconvnet.export import export_tflite

    data_dir = args.data_dir or tempfile.mkdtemp(prefix="synthetic_voc_")
    out_dir = args.out_dir or tempfile.mkdtemp(prefix="tflite_modes_")
    if not os.path.isdir(os.path.join(data_dir, "JPEGImages")):
        write_synthetic_voc(
            data_dir, num_train=args.num_train, num_val=args.num_val,
            image_size=(224, 224), seed=args.seed,
        )
    train_images, train_labels = load_split(data_dir, "train")
    val_images, val_labels = load_split(data_dir, "val")
    if args.model:
        import keras_deconvnet

        model = keras_deconvnet.load(args.model)
    else:
        model = train(args, train_images, train_labels)
    if args.save_model:
        model.save(args.save_model)
    keras_scores = keras.ops.convert_to_numpy(
        model.predict(val_images, batch_size=args.batch_size, verbose=0)
    )
    keras_miou = mean_iou(keras_scores.argmax(-1), val_labels)
    print(f"Keras float32 mIoU on {len(val_images)} validation images: {keras_miou:.4f}")

    rows = []
    reference_labels = None
    for mode in tqdm(MODES, desc="modes"):
        path = export_tflite(model, os.path.join(out_dir, f"deconvnet_{mode}.tflite"), quantize=mode)
        labels = litert_predict(path, val_images, args.threads).argmax(-1)
        if reference_labels is None:
            reference_labels = labels
        valid = val_labels != 255
        rows.append({
            "mode": mode,
            "size_mb": os.path.getsize(path) / 1e6,
            "latency_ms": 1e3 * litert_latency(path, val_images[0], args.threads, args.repeats),
            "miou": mean_iou(labels, val_labels),
            "changed": float(np.mean(labels[valid] != reference_labels[valid])),
        })
    base = rows[0]["miou"]
    print(
        f"\nDeconvNet width={args.width}, 21 classes, trained {args.epochs} "
        f"epochs on {len(train_images)} synthetic images; "
        f"{len(val_images)} validation images; LiteRT {args.threads} threads.\n"
    )
    print("| mode | size (MB) | latency (ms, 224x224) | mIoU | mIoU change vs float32 | pixels relabelled |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['mode']} | {row['size_mb']:.2f} | {row['latency_ms']:.1f} | "
            f"{row['miou']:.4f} | {row['miou'] - base:+.4f} | {100 * row['changed']:.2f}% |"
        )
    print(f"\n.tflite files in {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
