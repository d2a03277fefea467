"""Evaluating a segmentation model over a whole split, as the VOC devkit.

Always in inference mode (BN moving statistics), always through
`keras_deconvnet.inference.Segmenter`, one image at a time, in one of its
modes; each feeds the network inputs of the size it was trained on (run
fully convolutionally on whole frames of another size, it fails):
- `"whole"`: the image resized (bilinear) to the model's input size, one
  forward pass, the raw scores resized back (bilinear), argmax.
- `"tiles"`: overlapping windows at `tile_scale` with `tile_overlap`,
  softmax probabilities averaged where they overlap and over the scales.
- `"proposals"`: the paper's inference (EdgeBoxes, 50 crops, max
  aggregation).
With `fcn`, an FCN-8s on the whole image is ensembled with it (EDeconvNet).
"""

import numpy as np
from tqdm.auto import tqdm

from keras_deconvnet.metrics import ConfusionMatrix

MODES = ("whole", "tiles", "proposals")


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
        mode: `"whole"`, `"tiles"` or `"proposals"` (see the module
            docstring).
        batch_size: crops per forward pass.
        num_examples: total count for the progress bar, or `None`.
        progress: show a progress bar.
        **segmenter_options: passed to `Segmenter` (`fcn`, `ensemble`,
            `tile_scale`, `tile_overlap`, `num_proposals`, `aggregation`,
            `edge_model`, ...).

    Returns:
        `ConfusionMatrix(...).summary()` plus `"mode"`, `"input_size"`,
        `"num_images"`, `"aggregation"`, the tile settings (tiles), the
        edge map used (proposals), `"ensemble"` (with an FCN) and
        `"confusion_matrix"`.

    Raises:
        ValueError: an unknown mode, a model with a non-square input, or
            a model scoring another number of classes.

    Example:

    >>> source = data.load_source("voc", "VOC2012", "val")
    >>> evaluate(model, data.evaluation_examples(source), 21, 255)["miou"]
    """
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode}")
    from keras_deconvnet.inference import Segmenter

    for name, candidate in (("model", model),
                            ("fcn", segmenter_options.get("fcn"))):
        output_classes = None if candidate is None else (
            candidate.outputs[0].shape[-1])
        if output_classes is not None and output_classes != num_classes:
            raise ValueError(
                f"The {name} scores {output_classes} classes but the dataset "
                f"has {num_classes}. Pass the dataset's --num-classes the "
                "model was trained with."
            )
    segmenter = Segmenter(model, batch_size=batch_size, mode=mode,
                          **segmenter_options)
    matrix = ConfusionMatrix(num_classes, ignore_label)
    bar = tqdm(total=num_examples, disable=not progress,
               desc=f"Evaluating ({mode})", unit="image")
    count = 0
    for image, label in examples:
        matrix.update(np.asarray(label), segmenter.segment(image))
        count += 1
        bar.update(1)
    bar.close()
    summary = matrix.summary()
    summary.update(mode=mode, input_size=segmenter.crop_size,
                   num_images=count, aggregation=segmenter.aggregation)
    if mode == "tiles":
        summary.update(tile_scale=list(segmenter.tile_scale),
                       tile_overlap=segmenter.tile_overlap)
    if mode == "proposals":
        from keras_deconvnet.proposals.edges import edge_map_name

        summary["edge_map"] = edge_map_name(segmenter.edge_model)
    if segmenter.fcn is not None:
        summary["ensemble"] = segmenter.ensemble
        summary["fcn_mode"] = segmenter.fcn_mode
    summary["confusion_matrix"] = matrix.matrix.tolist()
    return summary


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(matrix, class_names, path, title=None):
    """Writes a row-normalised confusion-matrix PNG (needs matplotlib).

    Args:
        matrix: `[C, C]` counts, rows ground truth, columns predictions.
        class_names: `C` names.
        path: PNG file to write.
        title: optional title.
    """
    plt = _pyplot()
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


def plot_per_class_iou(per_class_iou, class_names, path, title=None,
                       mean_iou=None):
    """Writes a horizontal bar chart of the per-class IoU (needs matplotlib).

    Classes without pixels (IoU `None`) are listed as "n/a"; a dashed line
    marks the mean IoU.

    Args:
        per_class_iou: `C` IoU values in [0, 1], or `None`.
        class_names: `C` names.
        path: PNG file to write.
        title: optional title.
        mean_iou: the mean IoU in [0, 1] to mark; by default the mean of
            the classes with a value.
    """
    plt = _pyplot()
    values = [np.nan if iou is None else 100 * iou for iou in per_class_iou]
    rows = np.arange(len(values))
    height = max(2.5, 0.32 * len(values) + 1.2)
    figure, axes = plt.subplots(figsize=(6.5, height))
    axes.barh(rows, np.nan_to_num(values), color="tab:blue")
    for row, value in zip(rows, values):
        text = "n/a" if np.isnan(value) else f"{value:.1f}"
        axes.text((0 if np.isnan(value) else value) + 1, row, text,
                  va="center", fontsize=8)
    if mean_iou is not None or not np.all(np.isnan(values)):
        mean = np.nanmean(values) if mean_iou is None else 100 * mean_iou
        axes.axvline(mean, color="tab:red", linestyle="--", linewidth=1,
                     label=f"mean IoU {mean:.1f}")
        axes.legend(loc="best", fontsize=8)
    axes.set_yticks(rows, class_names)
    axes.invert_yaxis()  # the first class at the top, as in the table
    axes.set_xlim(0, 110)
    axes.set_xlabel("IoU (%)")
    axes.grid(axis="x", alpha=0.3)
    if title:
        axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
