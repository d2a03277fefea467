"""Re-estimating BatchNormalization moving statistics after training.

The authors' Caffe BN layers kept no running statistics: after training
they computed the population mean and variance over about 14,000 stage-2
windows. Keras' exponential moving averages lag behind the weights, and
after a short or fast-changing run the network in inference mode scores
far below the same network with batch statistics (on CamVid at width
0.25: 8.5% mIoU against 19.6%), so training ends here with an exact
re-estimation (21.5% there; benchmarks/results/camvid_whole_w0.25.json).
"""

import numpy as np
from tqdm.auto import tqdm

import keras
from keras import ops


def batch_norm_layers(model):
    """Returns the `BatchNormalization` layers of `model`, in graph order."""
    layers = []
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layers.append(layer)
    return layers


def has_folded_batch_norm(model):
    """Whether `model`'s BN is folded into scale and shift for inference.

    True when every BN layer has moving mean 0 and moving variance 1 (as
    when built) but some scale or shift is not the initial 1 or 0: the
    form of a Caffe-converted DeconvNet, exact only in inference mode.
    """
    layers = batch_norm_layers(model)
    if not layers:
        return False
    unit_statistics = all(
        np.all(ops.convert_to_numpy(layer.moving_mean) == 0)
        and np.all(ops.convert_to_numpy(layer.moving_variance) == 1)
        for layer in layers)
    initial_affine = all(
        (not layer.scale or np.all(ops.convert_to_numpy(layer.gamma) == 1))
        and (not layer.center
             or np.all(ops.convert_to_numpy(layer.beta) == 0))
        for layer in layers)
    return unit_statistics and not initial_affine


def refuse_folded_batch_norm(model, init, allowed=False):
    """Raises `ValueError` when `model` (initialised from `init`) has BN
    folded for inference (`has_folded_batch_norm`), unless `allowed`."""
    if allowed or not has_folded_batch_norm(model):
        return
    raise ValueError(
        f"`init` '{init}' has BN folded into scale and shift for "
        "inference (every moving mean 0, variance 1, trained scales), as "
        "in a Caffe-converted model. It is exact only in inference mode: "
        "training normalises with batch statistics, so it would start "
        "from a different network. Pass allow_folded_batch_norm=True "
        "(--allow-folded-bn) to train from it anyway."
    )


class _MomentAccumulator:
    """Pools per-batch (count, mean, variance) into population moments.

    Uses the parallel-variance formula in float64, so it stays exact over
    millions of pixels where `E[x^2] - E[x]^2` in float32 would not.
    """

    def __init__(self, channels):
        self.count = 0
        self.mean = np.zeros(channels, np.float64)
        self.sum_squares = np.zeros(channels, np.float64)

    def add(self, count, mean, variance):
        mean = np.asarray(mean, np.float64)
        variance = np.asarray(variance, np.float64)
        total = self.count + count
        delta = mean - self.mean
        self.sum_squares += variance * count + delta**2 * self.count * count / total
        self.mean += delta * count / total
        self.count = total

    def variance(self):
        return self.sum_squares / max(self.count, 1)


def _moments_function(model, layers):
    """Returns `images -> [(mean, variance) per BN layer]` on batch stats."""
    probe = keras.Model(model.inputs, [layer.input for layer in layers])

    def moments(images):
        # training=True: every BN normalises with its batch statistics, as
        # in training, so each layer sees the inputs it was trained on.
        features = probe(images, training=True)
        if not isinstance(features, (list, tuple)):
            features = [features]
        results = []
        for feature, layer in zip(features, layers):
            feature = ops.cast(feature, "float32")
            axes = [a for a in range(len(feature.shape)) if a != layer.axis
                    and a != len(feature.shape) + layer.axis]
            mean, variance = ops.moments(feature, axes=axes)
            results.append((mean, variance))
        return results

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(moments, reduce_retracing=True)
    return moments


def reestimate_batch_norm_statistics(model, images, num_batches=None,
                                     progress=True):
    """Sets every BN layer's moving mean/variance to population statistics.

    The weights are not changed. Each batch runs forward as in training
    (`training=True`); each trainable BN layer's per-channel mean and
    (biased) variance of its input are pooled exactly over all pixels of
    all batches, then written into `moving_mean` and `moving_variance`.
    Afterwards inference mode (`training=False`) normalises with the
    statistics of the data, like the authors' post-training estimation.
    Frozen BN layers (`trainable=False`) normalise with their moving
    statistics even when `training=True` in Keras 3, in training as here,
    so those statistics are part of the trained network: they are kept.

    Args:
        model: a functional Keras model (e.g. `DeconvNet`).
        images: an iterable of image batches, or of `(images, labels)`
            tuples (a `tf.data.Dataset` of training crops works).
        num_batches: how many batches to use; `None` for all (the
            iterable must then be finite).
        progress: show a progress bar.

    Returns:
        The number of images used (0 when every BN layer is frozen).

    Raises:
        ValueError: `model` has no BatchNormalization layer, or `images`
            yields nothing.

    Example:

    >>> dataset = training_dataset(source, crops="proposals", batch_size=64)
    >>> reestimate_batch_norm_statistics(model, dataset, num_batches=220)
    """
    layers = batch_norm_layers(model)
    if not layers:
        raise ValueError(
            f"Model '{model.name}' has no BatchNormalization layer to "
            "re-estimate."
        )
    layers = [layer for layer in layers if layer.trainable]
    if not layers:
        return 0
    moments = _moments_function(model, layers)
    accumulators = [_MomentAccumulator(layer.moving_mean.shape[0])
                    for layer in layers]
    num_images = 0
    batches = tqdm(images, total=num_batches, disable=not progress,
                   desc="Re-estimating BN statistics", unit="batch")
    for index, batch in enumerate(batches):
        if num_batches is not None and index >= num_batches:
            break
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        batch_size = int(batch.shape[0])
        results = moments(batch)
        for accumulator, (mean, variance), layer in zip(
            accumulators, results, layers
        ):
            pixels = batch_size * int(np.prod(layer.input.shape[1:-1]))
            accumulator.add(
                pixels, ops.convert_to_numpy(mean),
                ops.convert_to_numpy(variance),
            )
        num_images += batch_size
    batches.close()
    if num_images == 0:
        raise ValueError("`images` yielded no batch: nothing to estimate.")
    for accumulator, layer in zip(accumulators, layers):
        layer.moving_mean.assign(
            accumulator.mean.astype(layer.moving_mean.dtype)
        )
        layer.moving_variance.assign(
            accumulator.variance().astype(layer.moving_variance.dtype)
        )
    return num_images
