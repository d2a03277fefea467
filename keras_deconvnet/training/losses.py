"""Softmax cross-entropy that ignores a label, and class-weight helpers."""

import numpy as np

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class SegmentationCrossEntropy(keras.losses.Loss):
    """Per-pixel softmax cross-entropy on raw scores, skipping a label.

    Caffe's `SoftmaxWithLoss` with `ignore_label` and `normalize: VALID`:
    the sum of the pixel losses over the labelled pixels of the batch,
    divided by the number of labelled pixels (not by all pixels), so that
    crops padded with the ignore label do not dilute the gradient. With
    `class_weights`, each pixel's loss is multiplied by the weight of its
    true class (the normaliser stays the pixel count, as Keras'
    `class_weight` does). The computation is in float32 whatever the
    scores' dtype, for mixed precision. Under a `tf.distribute` strategy
    the divisor is the labelled-pixel count of the global batch, as one
    Caffe solver over the whole batch. A label outside `[0, num_classes)`
    that is not `ignore_label` raises (see `assert_labels_in_range`)
    instead of being counted as some class.

    Args:
        ignore_label: label value contributing no loss (255 for VOC, 11
            for CamVid), or `None`.
        class_weights: optional sequence of one weight per class, e.g.
            from `median_frequency_weights`.
        name: loss name.

    Example:

    >>> loss = SegmentationCrossEntropy(ignore_label=255)
    >>> model.compile(optimizer="sgd", loss=loss)
    """

    def __init__(
        self,
        ignore_label=255,
        class_weights=None,
        name="segmentation_cross_entropy",
        **kwargs,
    ):
        kwargs.setdefault("reduction", "sum_over_batch_size")
        super().__init__(name=name, **kwargs)
        if ignore_label is not None and not isinstance(
            ignore_label, (int, np.integer)
        ):
            raise ValueError(
                "`ignore_label` must be an int or None. "
                f"Received: ignore_label={ignore_label}"
            )
        self.ignore_label = None if ignore_label is None else int(ignore_label)
        if class_weights is not None:
            class_weights = [float(w) for w in class_weights]
            if not class_weights or min(class_weights) < 0:
                raise ValueError(
                    "`class_weights` must be a non-empty list of weights "
                    f">= 0. Received: class_weights={class_weights}"
                )
        self.class_weights = class_weights

    def call(self, y_true, y_pred):
        scores = ops.cast(y_pred, "float32")
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == len(scores.shape):
            labels = ops.squeeze(labels, axis=-1)
        num_classes = scores.shape[-1]
        if self.ignore_label is None:
            valid = ops.ones_like(labels, dtype="float32")
        else:
            valid = ops.cast(ops.not_equal(labels, self.ignore_label), "float32")
        out_of_range = ops.logical_and(
            valid > 0,
            ops.logical_or(labels < 0, labels >= num_classes),
        )
        # Ignored pixels get a harmless label; their loss is zeroed below.
        safe_labels = ops.where(
            ops.logical_and(valid > 0, ops.logical_not(out_of_range)),
            labels, ops.zeros_like(labels),
        )
        pixel_loss = ops.sparse_categorical_crossentropy(
            safe_labels, scores, from_logits=True
        )
        # An out-of-range label makes the loss NaN (which stops training)
        # where no error can be raised (XLA drops assertions), and raises
        # a clear error everywhere else.
        pixel_loss = ops.where(out_of_range, float("nan"), pixel_loss)
        pixel_loss = assert_labels_in_range(
            labels, num_classes, self.ignore_label, pixel_loss
        )
        weights = valid
        if self.class_weights is not None:
            if len(self.class_weights) != num_classes:
                raise ValueError(
                    f"`class_weights` has {len(self.class_weights)} entries "
                    f"but the model scores {num_classes} classes."
                )
            table = ops.convert_to_tensor(self.class_weights, dtype="float32")
            weights = weights * ops.take(table, safe_labels)
        # Caffe's VALID normalisation: the mean over the labelled pixels of
        # the whole (global) batch. Keras divides by every pixel of this
        # replica's batch and by the replica count, and sums the replicas'
        # gradients; undo both and divide by the global labelled count, so
        # that replicas with few labelled pixels do not weigh more.
        total = ops.cast(ops.size(valid), "float32")
        labelled, replicas = _global_sum(ops.sum(valid))
        labelled = ops.maximum(labelled, 1.0)
        return pixel_loss * weights * (total * replicas / labelled)

    def get_config(self):
        return {
            **super().get_config(),
            "ignore_label": self.ignore_label,
            "class_weights": self.class_weights,
        }


def _global_sum(value):
    """`(sum of value over the replicas in sync, number of replicas)`.

    Under a `tf.distribute` strategy with several replicas, from inside a
    replica (a training step) the sum is an all-reduce; anywhere else the
    value is already the whole batch's.
    """
    if keras.backend.backend() != "tensorflow":
        return value, 1.0
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    context = tf.distribute.get_replica_context()
    if replicas > 1 and context is not None:
        value = context.all_reduce("sum", tf.stop_gradient(value))
    return value, float(replicas)


def _label_range_message(num_classes, ignore_label):
    return (
        f"Labels must lie in [0, {num_classes}) or equal the ignore label "
        f"({ignore_label}). Pass the dataset's ignore label (VOC: 255) as "
        "`ignore_label`. Out-of-range labels found, smallest and largest:"
    )


def assert_labels_in_range(labels, num_classes, ignore_label, result=None):
    """Raises if a label is outside `[0, num_classes)` and not ignored.

    On TensorFlow a `tf.debugging.Assert` (eager or in a graph, CPU or
    GPU; XLA-compiled steps drop it, where `SegmentationCrossEntropy`
    turns such pixels into a NaN loss instead); on other backends a
    `ValueError` when the labels are concrete.

    Args:
        labels: integer label tensor.
        num_classes: number of classes.
        ignore_label: label value that is allowed, or `None`.
        result: returned unchanged, after the check has run.

    Returns:
        `result` (or `labels` when `result` is None).

    Raises:
        InvalidArgumentError (TensorFlow) or ValueError: a bad label,
            naming the smallest and largest bad values and the range.
    """
    result = labels if result is None else result
    labels = ops.cast(labels, "int32")
    bad = ops.logical_or(labels < 0, labels >= num_classes)
    if ignore_label is not None:
        bad = ops.logical_and(bad, ops.not_equal(labels, ignore_label))
    message = _label_range_message(num_classes, ignore_label)
    if keras.backend.backend() == "tensorflow":
        return _tf_assert_labels_in_range(labels, num_classes, ignore_label,
                                          result)
    if keras.backend.backend() == "jax":
        import jax

        if isinstance(labels, jax.core.Tracer):
            return result  # jitted: no error possible, the NaN loss remains
    values = ops.convert_to_numpy(labels)
    found = ops.convert_to_numpy(bad)
    if found.any():
        raise ValueError(
            f"{message} {values[found].min()}, {values[found].max()}."
        )
    return result


def _tf_assert_labels_in_range(labels, num_classes, ignore_label, result):
    """`assert_labels_in_range` in TensorFlow ops: also for tf.data maps,
    which run TensorFlow whatever the Keras backend."""
    import tensorflow as tf

    labels = tf.cast(labels, tf.int32)
    bad = tf.logical_or(labels < 0, labels >= num_classes)
    if ignore_label is not None:
        bad = tf.logical_and(bad, tf.not_equal(labels, ignore_label))
    big = tf.int32.max
    smallest = tf.reduce_min(tf.where(bad, labels, big))
    largest = tf.reduce_max(tf.where(bad, labels, -big))
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(bad)),
        [_label_range_message(num_classes, ignore_label), smallest, largest],
    )
    with tf.control_dependencies([check]):
        return tf.identity(result)


def checked_label_batches(dataset, num_classes, ignore_label):
    """Adds `assert_labels_in_range` on the labels of a `tf.data.Dataset`
    of `(images, labels)` batches: the check runs in the input pipeline,
    on the host, whatever device and compilation the training step uses.
    Anything without `map` is returned unchanged."""
    if not hasattr(dataset, "map"):
        return dataset

    def check(images, labels, *rest):
        labels = _tf_assert_labels_in_range(labels, num_classes,
                                            ignore_label, labels)
        return (images, labels, *rest)

    return dataset.map(check)


def class_pixel_counts(label_maps, num_classes, ignore_label=None):
    """Counts pixels per class and the pixels of images holding each class.

    Args:
        label_maps: iterable of integer label arrays.
        num_classes: number of classes.
        ignore_label: label value to skip, or `None`.

    Returns:
        `(class_pixels, image_pixels)`: int64 arrays of `num_classes`:
        pixels of each class, and total labelled pixels of the images in
        which the class occurs.
    """
    class_pixels = np.zeros(num_classes, np.int64)
    image_pixels = np.zeros(num_classes, np.int64)
    for labels in label_maps:
        labels = np.asarray(labels).ravel()
        if ignore_label is not None:
            labels = labels[labels != ignore_label]
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"Label map holds values outside [0, {num_classes}) that "
                f"are not the ignore label ({ignore_label}): "
                f"{np.unique(labels[(labels < 0) | (labels >= num_classes)])}"
            )
        counts = np.bincount(labels, minlength=num_classes)
        class_pixels += counts
        image_pixels[counts > 0] += labels.size
    return class_pixels, image_pixels


def check_weight_power(power, name="power"):
    """Raises `ValueError` unless `power` is a number in (0, 4]; the
    message names the argument as `name`."""
    if (isinstance(power, bool) or not isinstance(power, (int, float))
            or not 0 < power <= 4):
        raise ValueError(f"`{name}` must be a number in (0, 4]. "
                         f"Received: {name}={power!r}")


def median_frequency_weights(label_maps, num_classes, ignore_label=None,
                             power=1.0):
    """Median frequency balancing (Eigen and Fergus, 2015; SegNet).

    `weight[c] = (median(freq) / freq[c]) ** power`, where `freq[c]` is
    the pixels of class `c` divided by the pixels of the images in which
    `c` occurs. Classes that never occur get weight 0. `power=1` is
    SegNet's weighting; `power=0.5` (square root) narrows the spread, for
    short runs where rare classes with 30x a common class's weight eat
    into it (on CamVid, building pixels predicted as sign or pedestrian).

    Args:
        label_maps: iterable of integer label arrays (e.g. the labels of
            `keras_deconvnet.data.evaluation_examples(source)`).
        num_classes: number of classes.
        ignore_label: label value to skip, or `None`.
        power: exponent applied to the ratios, > 0.

    Returns:
        A list of `num_classes` floats.

    Example:

    >>> weights = median_frequency_weights(labels, 11, ignore_label=11)
    >>> loss = SegmentationCrossEntropy(11, class_weights=weights)
    """
    check_weight_power(power)
    class_pixels, image_pixels = class_pixel_counts(
        label_maps, num_classes, ignore_label
    )
    present = class_pixels > 0
    if not present.any():
        raise ValueError("No labelled pixel found: cannot weight classes.")
    frequency = np.zeros(num_classes)
    frequency[present] = class_pixels[present] / image_pixels[present]
    median = np.median(frequency[present])
    weights = np.zeros(num_classes)
    weights[present] = (median / frequency[present]) ** power
    return weights.tolist()
