"""Segmentation metrics accumulated over a whole split, as the VOC devkit.

NumPy only, so they work on any backend and outside TensorFlow.
"""

import numpy as np


class ConfusionMatrix:
    """Accumulates a `num_classes x num_classes` confusion matrix.

    Rows are ground truth, columns predictions. Pixels whose label is
    `ignore_label` (or outside `[0, num_classes)` when `strict=False`) are
    skipped. mIoU is computed once over the accumulated matrix, not
    averaged per image, as the PASCAL VOC devkit does.

    Args:
        num_classes: number of classes.
        ignore_label: label value to skip (255 for VOC, 11 for CamVid), or
            `None`.
        strict: raise on labels outside `[0, num_classes)` that are not
            `ignore_label`, instead of skipping them silently.

    Example:

    >>> matrix = ConfusionMatrix(21, ignore_label=255)
    >>> matrix.update(labels, predictions)
    >>> matrix.mean_iou()
    """

    def __init__(self, num_classes, ignore_label=255, strict=True):
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(
                f"`num_classes` must be a positive int. "
                f"Received: num_classes={num_classes}"
            )
        self.num_classes = int(num_classes)
        self.ignore_label = ignore_label
        self.strict = strict
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, labels, predictions):
        labels = np.asarray(labels).astype(np.int64).ravel()
        predictions = np.asarray(predictions).astype(np.int64).ravel()
        if labels.shape != predictions.shape:
            raise ValueError(
                "`labels` and `predictions` must have the same number of "
                f"pixels. Received: {labels.size} and {predictions.size}"
            )
        keep = np.ones_like(labels, dtype=bool)
        if self.ignore_label is not None:
            keep &= labels != self.ignore_label
        in_range = (labels >= 0) & (labels < self.num_classes)
        if self.strict and np.any(keep & ~in_range):
            bad = np.unique(labels[keep & ~in_range])[:10]
            raise ValueError(
                f"Labels {bad.tolist()} are outside [0, {self.num_classes}) "
                f"and are not the ignore label ({self.ignore_label})."
            )
        keep &= in_range
        if np.any((predictions[keep] < 0) | (predictions[keep] >= self.num_classes)):
            raise ValueError(
                f"Predictions must be in [0, {self.num_classes})."
            )
        index = labels[keep] * self.num_classes + predictions[keep]
        self.matrix += np.bincount(
            index, minlength=self.num_classes**2
        ).reshape(self.num_classes, self.num_classes)
        return self

    def per_class_iou(self):
        """IoU per class; NaN for classes absent from labels and predictions."""
        true_positive = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - true_positive
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, true_positive / union, np.nan)

    def mean_iou(self):
        """Mean over the classes that occur (NaN classes are left out)."""
        iou = self.per_class_iou()
        return float(np.nanmean(iou)) if np.any(~np.isnan(iou)) else 0.0

    def pixel_accuracy(self):
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else 0.0

    def mean_class_accuracy(self):
        totals = self.matrix.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = np.diag(self.matrix) / totals
        present = totals > 0
        return float(accuracy[present].mean()) if present.any() else 0.0

    def summary(self):
        """A JSON-ready dict of every metric."""
        return {
            "miou": self.mean_iou(),
            "pixel_accuracy": self.pixel_accuracy(),
            "mean_class_accuracy": self.mean_class_accuracy(),
            "per_class_iou": [
                None if np.isnan(v) else float(v) for v in self.per_class_iou()
            ],
            "num_pixels": int(self.matrix.sum()),
        }
