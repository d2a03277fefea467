"""Evaluating a segmentation model over a whole split, as the VOC devkit.

Always in inference mode (BN moving statistics). Two modes:
- `"whole"`: each image resized (bilinear) to the model's input size, one
  forward pass (images batched), the raw scores resized back to the image
  size (bilinear), argmax. The network sees the scale it was trained at
  (see the reference notes: whole frames at another size fail).
- `"proposals"`: the paper's inference through
  `keras_deconvnet.inference.Segmenter` (EdgeBoxes, 50 crops, max
  aggregation).
"""

import numpy as np
from tqdm.auto import tqdm

import keras

from keras_deconvnet.metrics import ConfusionMatrix

MODES = ("whole", "proposals")


def model_input_size(model):
    """The square input side of `model`; raises if it is not fixed."""
    shape = model.inputs[0].shape
    if shape[1] is None or shape[1] != shape[2]:
        raise ValueError(
            f"Model '{model.name}' must take fixed square inputs to be run "
            f"on resized images. Received input shape {tuple(shape)}."
        )
    return int(shape[1])


def _whole_batch(model, images, input_size):
    resized = np.stack([
        keras.ops.convert_to_numpy(keras.ops.image.resize(
            image.astype("float32"), (input_size, input_size),
            interpolation="bilinear",
        ))
        for image in images
    ])
    scores = keras.ops.convert_to_numpy(model(resized, training=False))
    labels = []
    for image, score in zip(images, scores):
        back = keras.ops.image.resize(
            score.astype("float32"), image.shape[:2], interpolation="bilinear"
        )
        labels.append(keras.ops.convert_to_numpy(keras.ops.argmax(back, -1)))
    return labels


def evaluate(model, examples, num_classes, ignore_label=None, mode="whole",
             batch_size=8, num_examples=None, progress=True,
             **segmenter_options):
    """Accumulates a confusion matrix of `model` over `examples`.

    Args:
        model: a Keras model from `[B, S, S, 3]` RGB in [0, 255] to raw
            scores `[B, S, S, num_classes]`.
        examples: iterable of `(image uint8 [H, W, 3], label int [H, W])`,
            e.g. `keras_deconvnet.data.evaluation_examples(source)`.
        num_classes: number of classes.
        ignore_label: label not scored (255 VOC, 11 CamVid), or `None`.
        mode: `"whole"` or `"proposals"` (see the module docstring).
        batch_size: images per forward pass in whole mode; crops per
            forward pass in proposals mode.
        num_examples: total count for the progress bar, or `None`.
        progress: show a progress bar.
        **segmenter_options: passed to `Segmenter` in proposals mode
            (`num_proposals`, `aggregation`, ...).

    Returns:
        `ConfusionMatrix(...).summary()` plus `"mode"`, `"input_size"` and
        `"num_images"`.

    Raises:
        ValueError: an unknown mode, or a model with a non-square input.

    Example:

    >>> source = data.load_source("voc", "VOC2012", "val")
    >>> evaluate(model, data.evaluation_examples(source), 21, 255)["miou"]
    """
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode}")
    input_size = model_input_size(model)
    output_classes = model.outputs[0].shape[-1]
    if output_classes != num_classes:
        raise ValueError(
            f"The model scores {output_classes} classes but the dataset has "
            f"{num_classes}. Pass the dataset's --num-classes the model was "
            "trained with."
        )
    matrix = ConfusionMatrix(num_classes, ignore_label)
    bar = tqdm(total=num_examples, disable=not progress,
               desc=f"Evaluating ({mode})", unit="image")
    count = 0
    if mode == "proposals":
        from keras_deconvnet.inference import Segmenter

        segmenter = Segmenter(model, batch_size=batch_size,
                              mode="proposals", **segmenter_options)
        for image, label in examples:
            matrix.update(label, segmenter.segment(image))
            count += 1
            bar.update(1)
    else:
        pending = []

        def flush():
            images = [image for image, _ in pending]
            for (_, label), prediction in zip(
                pending, _whole_batch(model, images, input_size)
            ):
                matrix.update(label, prediction)
            bar.update(len(pending))
            pending.clear()

        for image, label in examples:
            pending.append((np.asarray(image), np.asarray(label)))
            count += 1
            if len(pending) == batch_size:
                flush()
        if pending:
            flush()
    bar.close()
    summary = matrix.summary()
    summary.update(mode=mode, input_size=input_size, num_images=count)
    summary["confusion_matrix"] = matrix.matrix.tolist()
    return summary


def plot_confusion_matrix(matrix, class_names, path, title=None):
    """Writes a row-normalised confusion-matrix PNG (needs matplotlib).

    Args:
        matrix: `[C, C]` counts, rows ground truth, columns predictions.
        class_names: `C` names.
        path: PNG file to write.
        title: optional title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix, np.float64)
    rows = matrix.sum(1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix),
                           where=rows > 0)
    size = max(4.0, 0.45 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(class_names)), class_names, rotation=90)
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("ground truth")
    if title:
        axes.set_title(title)
    if len(class_names) <= 25:
        for row in range(len(class_names)):
            for column in range(len(class_names)):
                value = normalised[row, column]
                if value >= 0.005:
                    axes.text(column, row, f"{value:.2f}", ha="center",
                              va="center", fontsize=7,
                              color="white" if value > 0.5 else "black")
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
