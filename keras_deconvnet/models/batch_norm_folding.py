"""Folds BatchNormalization into the preceding convolution for inference.

In inference mode a BatchNormalization layer is a fixed per-channel affine
map, `gamma * (y - mean) / sqrt(variance + epsilon) + beta`. When `y` is the
output of a convolution used by nothing else, that map can be merged into
the convolution's kernel and bias: the network computes the same function
with 29 fewer layers (DeconvNet) and one pass less over every feature map.
Written with Keras and NumPy only, so it works on every backend.
"""

import keras
import numpy as np

from keras_deconvnet.layers import FullWindowConv2D
from keras_deconvnet.layers import FullWindowConv2DTranspose
from keras_deconvnet.models.segmentation_model import SegmentationModel

# Layers whose output channels are the last kernel axis (Conv2D,
# `(kh, kw, in, out)`) or the one before it (Conv2DTranspose, `(kh, kw,
# out, in)`).
FOLDABLE_LAYERS = {
    keras.layers.Conv2D: -1,
    keras.layers.Conv2DTranspose: -2,
    keras.layers.Dense: -1,
    FullWindowConv2D: -1,
    FullWindowConv2DTranspose: -2,
}


def _output_channel_axis(layer):
    for layer_class, axis in FOLDABLE_LAYERS.items():
        if type(layer) is layer_class:
            return axis
    return None


def producer_of(layer):
    """Returns the layer whose output `layer` (called once) consumes."""
    if len(layer._inbound_nodes) != 1:
        return None
    input_tensors = layer._inbound_nodes[0].input_tensors
    if len(input_tensors) != 1:
        return None
    return input_tensors[0]._keras_history.operation


def _is_plain_channel_norm(layer):
    axis = layer.axis if isinstance(layer.axis, int) else None
    return axis in (-1, 3) and not layer.get_config().get("renorm", False)


def find_foldable_pairs(model):
    """Lists `(convolution name, batch norm name)` pairs that can be folded.

    A pair qualifies when the BatchNormalization normalises the last axis,
    is called once, and its input is the output of a Conv2D,
    Conv2DTranspose or Dense layer that is called once and feeds nothing
    else.

    Args:
        model: a functional `keras.Model`.

    Returns:
        A list of `(producer_name, batch_norm_name)` tuples.
    """
    pairs = []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        if not _is_plain_channel_norm(layer):
            continue
        producer = producer_of(layer)
        if producer is None or _output_channel_axis(producer) is None:
            continue
        if len(producer._inbound_nodes) != 1:
            continue
        if len(producer._outbound_nodes) != 1:
            continue
        pairs.append((producer.name, layer.name))
    return pairs


def _folded_weights(producer, batch_norm):
    """Returns `(kernel, bias)` of `producer` with `batch_norm` merged in.

    The per-channel scale and the bias are computed in float64; the kernel
    is multiplied by the scale in its own dtype, one rounding per weight
    (float64 there made the paper network's fold 2.4x slower, an ad-hoc
    timing, for at most one unit in the last place).
    """
    kernel = keras.ops.convert_to_numpy(producer.kernel)
    channels = kernel.shape[_output_channel_axis(producer)]
    if producer.use_bias:
        bias = keras.ops.convert_to_numpy(producer.bias).astype("float64")
    else:
        bias = np.zeros(channels)

    def numpy_or(variable, default):
        if variable is None:
            return np.full(channels, default)
        return keras.ops.convert_to_numpy(variable).astype("float64")

    gamma = numpy_or(batch_norm.gamma, 1.0)
    beta = numpy_or(batch_norm.beta, 0.0)
    mean = numpy_or(batch_norm.moving_mean, 0.0)
    variance = numpy_or(batch_norm.moving_variance, 1.0)
    scale = gamma / np.sqrt(variance + batch_norm.epsilon)
    axis = _output_channel_axis(producer)
    broadcast_shape = [1] * kernel.ndim
    broadcast_shape[axis] = channels
    kernel = kernel * scale.reshape(broadcast_shape).astype(kernel.dtype)
    bias = (bias - mean) * scale + beta
    return kernel, bias


def is_functional(model):
    """True for a functional `keras.Model` (a graph of layers)."""
    return isinstance(model, keras.Model) and hasattr(
        model, "_run_through_graph")


def clone_with_weights(model, clone_layer, weights_of=None, call_layer=None):
    """`keras.models.clone_model(model, clone_layer, call_function=
    call_layer)` whose every layer with weights gets
    `weights_of(old_layer, new_layer)` (the layer of the same name in
    `model`, and its clone; by default a copy of the old layer's weights),
    keeping a `SegmentationModel`'s metadata.

    The clones' variables start as zeros: random initialisation, which
    the copied weights overwrite anyway, took most of a clone's time.
    """
    initializers = []

    def clone_without_random_init(layer):
        new_layer = clone_layer(layer)
        for name, value in list(vars(new_layer).items()):
            if (name.endswith("_initializer")
                    and isinstance(value, keras.initializers.Initializer)):
                initializers.append((new_layer, name, value))
                setattr(new_layer, name, keras.initializers.Zeros())
        return new_layer

    clone = keras.models.clone_model(
        model, clone_function=clone_without_random_init,
        call_function=call_layer
    )
    # Back to the layers' own initialisers, for their configs.
    for new_layer, name, value in initializers:
        setattr(new_layer, name, value)
    for new_layer in clone.layers:
        if new_layer.weights:
            old_layer = model.get_layer(new_layer.name)
            new_layer.set_weights(
                old_layer.get_weights() if weights_of is None
                else weights_of(old_layer, new_layer))
    if isinstance(model, SegmentationModel):
        # clone_model rebuilds the graph only; the metadata stays the same.
        clone.stored_metadata = model.stored_metadata
    return clone


def fold_batch_norm_if_possible(model):
    """`fold_batch_norm(model)` where `model` is functional and has a
    foldable BN; otherwise `model` itself (subclassed models, networks
    without BN such as FCN-8s)."""
    if is_functional(model) and find_foldable_pairs(model):
        return fold_batch_norm(model)
    return model


def fold_batch_norm(model):
    """Returns an equivalent inference model without foldable BN layers.

    Every BatchNormalization that directly follows a Conv2D,
    Conv2DTranspose or Dense layer (see `find_foldable_pairs`) is merged
    into that layer's kernel and bias, using the moving statistics, and
    removed from the graph. The result computes what `model` computes in
    inference mode (`training=False`), up to float rounding; it is meant
    for inference and export, not for further training (the batch
    statistics are gone). Other layers are cloned with copies of their
    weights; layer names are kept. The scales and biases are computed in
    float64, the kernels scaled in their variables' dtype.

    Args:
        model: a functional `keras.Model` (e.g. `DeconvNet(...)`).

    Returns:
        A new `keras.Model` with the same inputs, outputs and name.

    Raises:
        ValueError: if `model` is not a functional model.

    Example:

    >>> model = keras_deconvnet.DeconvNet(num_classes=21, width=0.25)
    >>> inference_model = fold_batch_norm(model)
    >>> len(inference_model.layers) < len(model.layers)
    True
    """
    if not is_functional(model):
        raise ValueError(
            "`fold_batch_norm` needs a functional keras.Model (built from "
            "keras.Input). Received: "
            f"model of type {type(model).__name__}"
        )
    pairs = find_foldable_pairs(model)
    batch_norm_of = dict(pairs)
    folded_norms = set(batch_norm_of.values())

    def clone_layer(layer):
        config = layer.get_config()
        if layer.name in batch_norm_of:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    def call_layer(layer, *args, **kwargs):
        if layer.name in folded_norms:
            return args[0]
        return layer(*args, **kwargs)

    def weights_of(old_layer, new_layer):
        if new_layer.name not in batch_norm_of:
            return old_layer.get_weights()
        batch_norm = model.get_layer(batch_norm_of[new_layer.name])
        kernel, bias = _folded_weights(old_layer, batch_norm)
        return [kernel.astype(new_layer.kernel.dtype),
                bias.astype(new_layer.bias.dtype)]

    return clone_with_weights(model, clone_layer, weights_of, call_layer)
