"""The fastest equivalent of a model for inference.

Exact rewrites of a trained functional model (up to float rounding):
- plain convolutions whose window covers their input as the matrix
  products they are (`FullWindowConv2D`, for models saved before
  `DeconvNet` built fc6, fc7 and fc6-deconv that way);
- BatchNormalization folded into the convolution before it
  (`fold_batch_norm`);
- every stride-1 "same" transposed convolution with an odd kernel (all 13
  of DeconvNet's decoder) turned into the convolution it equals, with the
  kernel flipped in space and its channel axes swapped. oneDNN fuses a
  convolution with its bias and ReLU, which it does not do for a
  transposed one. On a 2-core Xeon with AMX the paper network's
  float32 forward went from 1.38-1.40x to 1.42-1.45x PyTorch's best
  (`python benchmarks/run.py model --paths-only`, docs/performance.md);
- on CPUs, the 3x3 convolutions on 28x28 to 56x56 inputs by Winograd
  F(4x4, 3x3) (`WinogradConv2D`): 1.64-1.84x PyTorch's best.

Written with Keras and NumPy only, so it works on every backend.
"""

import keras
import numpy as np

from keras_deconvnet.layers.full_window_conv import FullWindowConv2D
from keras_deconvnet.layers.full_window_conv import FullWindowConv2DTranspose
from keras_deconvnet.layers.full_window_conv import expands_single_position
from keras_deconvnet.layers.full_window_conv import window_covers_input
from keras_deconvnet.layers.winograd_conv import WinogradConv2D
from keras_deconvnet.layers.winograd_conv import geometry_mismatch
from keras_deconvnet.models.batch_norm_folding import producer_of
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


def _full_window_class(layer):
    """The `FullWindow*` class that computes `layer` as one matrix product
    at its input size, for a plain `Conv2D` / `Conv2DTranspose`."""
    if (type(layer) not in (keras.layers.Conv2D, keras.layers.Conv2DTranspose)
            or len(layer._inbound_nodes) != 1):
        return None
    spatial_shape = tuple(layer.input.shape[1:3])
    if (type(layer) is keras.layers.Conv2D
            and window_covers_input(layer, spatial_shape)):
        return FullWindowConv2D
    if (type(layer) is keras.layers.Conv2DTranspose
            and expands_single_position(layer, spatial_shape)):
        return FullWindowConv2DTranspose
    return None


def full_window_convolutions(model):
    """Returns `model` with the plain convolutions whose window covers
    their input (and transposed ones from a 1x1 input) as
    `FullWindowConv2D` / `FullWindowConv2DTranspose`, or `model` itself
    when it has none or is not functional.

    `DeconvNet` builds fc6, fc7 and fc6-deconv so; models saved before it
    did have plain layers there, which compute the same at a fifth of the
    speed on CPUs (`layers.full_window_conv`). Same configs and weights.
    """
    if not is_functional(model):
        return model
    upgrades = {layer.name: _full_window_class(layer)
                for layer in model.layers}
    upgrades = {name: cls for name, cls in upgrades.items() if cls}
    if not upgrades:
        return model

    def clone_layer(layer):
        layer_class = upgrades.get(layer.name, layer.__class__)
        return layer_class.from_config(layer.get_config())

    return clone_with_weights(model, clone_layer)


# Where Winograd F(4x4, 3x3) beat oneDNN's direct convolutions in the
# paper network on a 2-core Xeon: inputs of 28x28 to 56x56 with at least
# 128 channels (benchmarks/conv_algorithms.py per layer). Converting the
# 14x14 layers too made the whole network slower (1.18x instead of 1.22x
# faster than without Winograd, an ad-hoc run of the winograd_network.py
# comparison); larger layers with 64 or 128 channels are faster direct.
WINOGRAD_MIN_SIZE = 28
WINOGRAD_MAX_SIZE = 56
WINOGRAD_MIN_CHANNELS = 128


def is_winograd_candidate(layer, min_size=WINOGRAD_MIN_SIZE,
                          max_size=WINOGRAD_MAX_SIZE,
                          min_channels=WINOGRAD_MIN_CHANNELS):
    """True for a plain float32 `Conv2D` that `WinogradConv2D` computes
    (3x3, stride and dilation 1, "same", channels last, no groups) whose
    input is `min_size` to `max_size` high and wide (static) with at least
    `min_channels` channels. (In bfloat16 or float16 the transforms would
    round too coarsely.)"""
    if not (type(layer) is keras.layers.Conv2D
            and geometry_mismatch(layer) is None
            and layer.compute_dtype == "float32"
            and len(layer._inbound_nodes) == 1):
        return False
    _, height, width, channels = layer.input.shape
    return (height is not None and width is not None
            and min_size <= min(height, width)
            and max(height, width) <= max_size and channels >= min_channels)


def _is_plain_relu(layer):
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        return (config["max_value"] is None and not config["negative_slope"]
                and not config["threshold"])
    return (isinstance(layer, keras.layers.Activation)
            and layer.get_config()["activation"] == "relu")


def _relu_to_fuse(model, layer):
    """The plain ReLU that is the only consumer of linear `layer`'s
    output, if any (and that output is not also a model output)."""
    if (layer.activation not in (None, keras.activations.linear)
            or len(layer._outbound_nodes) != 1
            or any(output is layer.output for output in model.outputs)):
        return None
    consumer = layer._outbound_nodes[0].operation
    if _is_plain_relu(consumer) and producer_of(consumer) is layer:
        return consumer
    return None


def winograd_convolutions(model, min_size=WINOGRAD_MIN_SIZE,
                          max_size=WINOGRAD_MAX_SIZE,
                          min_channels=WINOGRAD_MIN_CHANNELS):
    """Returns `model` with its 3x3 convolutions on small, deep inputs as
    `WinogradConv2D` (`is_winograd_candidate`), or `model` itself when it
    has none or is not functional.

    A ReLU that directly follows a converted convolution (and is its only
    consumer) moves into it, so that the bias and ReLU run in the same XLA
    cluster as the Winograd transforms. Layer names and weights are kept;
    the outputs agree up to float rounding. Meant for float32 CPU
    inference on the TensorFlow backend (see `WinogradConv2D`).

    Args:
        model: a functional `keras.Model`.
        min_size: the smallest input height and width converted.
        max_size: the largest input height and width converted.
        min_channels: the fewest input channels converted.

    Returns:
        A new functional `keras.Model` (or `model`).
    """
    if not is_functional(model):
        return model
    converted = {layer.name for layer in model.layers
                 if is_winograd_candidate(layer, min_size, max_size,
                                          min_channels)}
    if not converted:
        return model
    fused_relus = {}
    for name in converted:
        relu = _relu_to_fuse(model, model.get_layer(name))
        if relu is not None:
            fused_relus[relu.name] = name

    def clone_layer(layer):
        config = layer.get_config()
        if layer.name not in converted:
            return layer.__class__.from_config(config)
        if layer.name in fused_relus.values():
            config["activation"] = "relu"
        return WinogradConv2D.from_config(config)

    def call_layer(layer, *args, **kwargs):
        if layer.name in fused_relus:
            return args[0]
        return layer(*args, **kwargs)

    return clone_with_weights(model, clone_layer, call_layer=call_layer)


def _winograd_pays(winograd):
    if winograd != "auto":
        if not isinstance(winograd, bool):
            raise ValueError(
                "`winograd` must be True, False or 'auto'. "
                f"Received: winograd={winograd!r}"
            )
        return winograd
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


def optimize_for_inference(model, winograd="auto"):
    """The fastest equivalent of `model` in inference mode.

    Rewrites, each exact up to float rounding:
    - fully connected layers saved as plain convolutions as the matrix
      products they are (`full_window_convolutions`; models built by this
      version already have them);
    - BatchNormalization folded into the convolutions (`fold_batch_norm`);
    - the stride-1 transposed convolutions turned into convolutions
      (`deconvolutions_as_convolutions`);
    - with `winograd`, the 3x3 convolutions on small, deep inputs as
      Winograd convolutions fused with their ReLU
      (`winograd_convolutions`).
    The result computes what `model(x, training=False)` computes; in
    float32 the scores differ by about 1e-6 of their range without
    Winograd and 1e-5 with it, except where that rounding flips a pooling
    switch between two nearly equal values (on a trained CamVid model
    99.9995% of the pixels kept their label). Subclassed models are
    returned unchanged.
    This is the package's best float32 CPU path (docs/performance.md).

    Args:
        model: a `keras.Model`, typically `DeconvNet(...)` or `FCN8s(...)`.
        winograd: `"auto"` (default: on the TensorFlow backend without a
            GPU), `True` or `False`. Its gain was measured on a Xeon with
            AVX-512 and AMX; `python benchmarks/winograd_network.py`
            measures it on yours.

    Returns:
        A new functional `keras.Model` (or `model` when nothing applies).

    Example:

    >>> model = keras_deconvnet.DeconvNet(num_classes=21, width=0.25)
    >>> fast = optimize_for_inference(model)
    >>> scores = fast.predict_on_batch(images)
    """
    use_winograd = _winograd_pays(winograd)
    optimized = deconvolutions_as_convolutions(
        fold_batch_norm_if_possible(full_window_convolutions(model)))
    if use_winograd:
        optimized = winograd_convolutions(optimized)
    return optimized
