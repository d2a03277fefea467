"""The fastest equivalent of a model for inference.

Two exact rewrites of a trained functional model:
- BatchNormalization folded into the convolution before it
  (`fold_batch_norm`);
- every stride-1 "same" transposed convolution with an odd kernel (all 13
  of DeconvNet's decoder) turned into the convolution it equals, with the
  kernel flipped in space and its channel axes swapped. oneDNN fuses a
  convolution with its bias and ReLU, which it does not do for a
  transposed one. On a 2-core Xeon with AMX the paper network's
  float32 forward went from 1.38-1.40x to 1.42-1.45x PyTorch's best
  (`python benchmarks/run.py model --paths-only`, docs/performance.md).

Written with Keras and NumPy only, so it works on every backend.
"""

import keras
import numpy as np

from keras_deconvnet.models.batch_norm_folding import clone_with_weights
from keras_deconvnet.models.batch_norm_folding import is_functional
from keras_deconvnet.models.batch_norm_folding import (
    fold_batch_norm_if_possible)


def is_convolution_in_disguise(layer):
    """True for a `Conv2DTranspose` that equals a `Conv2D`: strides and
    dilation 1, `padding="same"`, odd kernel sizes (symmetric padding), no
    `output_padding`, channels last."""
    return (isinstance(layer, keras.layers.Conv2DTranspose)
            and tuple(layer.strides) == (1, 1)
            and tuple(layer.dilation_rate) == (1, 1)
            and layer.padding == "same"
            and all(size % 2 for size in layer.kernel_size)
            and layer.output_padding is None
            and layer.data_format == "channels_last")


def convolution_kernel(transposed_kernel):
    """The `Conv2D` kernel `(kh, kw, in, out)` equal to a stride-1
    `Conv2DTranspose` kernel `(kh, kw, out, in)`."""
    return np.ascontiguousarray(
        np.asarray(transposed_kernel)[::-1, ::-1].transpose(0, 1, 3, 2))


def deconvolutions_as_convolutions(model):
    """Returns `model` with its stride-1 transposed convolutions as
    convolutions (`is_convolution_in_disguise`), or `model` itself when it
    has none or is not functional.

    The result computes the same function up to float rounding; layer
    names, the other layers and their weights are kept (copied). For
    inference: a model trained further would learn the same function, but
    its weights no longer load into the original architecture.
    """
    if not is_functional(model) or not any(
            is_convolution_in_disguise(layer) for layer in model.layers):
        return model

    def clone_layer(layer):
        config = layer.get_config()
        if is_convolution_in_disguise(layer):
            config.pop("output_padding")
            return keras.layers.Conv2D.from_config(config)
        return layer.__class__.from_config(config)

    def weights_of(old_layer, new_layer):
        weights = old_layer.get_weights()
        if is_convolution_in_disguise(old_layer):
            weights[0] = convolution_kernel(weights[0])
        return weights

    return clone_with_weights(model, clone_layer, weights_of)


def optimize_for_inference(model):
    """The fastest equivalent of `model` in inference mode.

    BatchNormalization folded into the convolutions (`fold_batch_norm`),
    then the stride-1 transposed convolutions turned into convolutions
    (`deconvolutions_as_convolutions`). What `model(x, training=False)`
    computes, up to float rounding (about 1e-6 of the scores in float32).
    Subclassed models are returned unchanged. This is the package's best
    float32 CPU path (docs/performance.md) and what the bfloat16 twin of
    `with_precision` is built from.

    Args:
        model: a `keras.Model`, typically `DeconvNet(...)` or `FCN8s(...)`.

    Returns:
        A new functional `keras.Model` (or `model` when nothing applies).

    Example:

    >>> model = keras_deconvnet.DeconvNet(num_classes=21, width=0.25)
    >>> fast = optimize_for_inference(model)
    >>> scores = fast.predict_on_batch(images)
    """
    return deconvolutions_as_convolutions(fold_batch_norm_if_possible(model))
