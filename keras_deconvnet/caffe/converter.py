"""Converts the authors' Caffe DeconvNet and FCN-8s into Keras models.

Every weight of the Keras model comes from one named Caffe layer through
the explicit maps of `layer_map`; any missing, extra, misnamed or
mis-shaped layer is an error that names it. Nothing is skipped silently.
"""

import math

import numpy as np
from tqdm import tqdm

from keras_deconvnet.caffe import layer_map
from keras_deconvnet.caffe.caffemodel_reader import read_caffemodel
from keras_deconvnet.caffe.matching import check_geometry
from keras_deconvnet.caffe.matching import check_structure
from keras_deconvnet.caffe.matching import find_layer
from keras_deconvnet.caffe.matching import merge_layers
from keras_deconvnet.caffe.prototxt import read_prototxt

ARCHITECTURES = ("deconvnet", "fcn8s")


def _read_blob(layer, index, expected_shape, mapping, legacy_ok=True):
    blob = layer.blobs[index]
    shape = tuple(blob.shape)
    matches = shape == tuple(expected_shape)
    if not matches and legacy_ok:
        # V1 files store vectors as 4-D (1, 1, 1, C) or (1, C, 1, 1).
        matches = blob.count == int(np.prod(expected_shape)) and sorted(
            dim for dim in shape if dim != 1
        ) == sorted(dim for dim in expected_shape if dim != 1)
    if not matches:
        raise ValueError(
            f"Caffe layer '{layer.name}' blob {index} has shape {shape}, "
            f"but Keras layer '{mapping.keras_name}' needs "
            f"{tuple(expected_shape)} (Caffe layout). Build the Keras model "
            "with the caffemodel's width and number of classes."
        )
    return blob.read().reshape(expected_shape)


def _assign(model, layer, mapping):
    keras_layer = model.get_layer(mapping.keras_name)
    targets = keras_layer.weights
    if mapping.kind == "scale_shift":
        if len(layer.blobs) != 2:
            raise ValueError(
                f"Caffe BN layer '{layer.name}' has {len(layer.blobs)} "
                "blobs; the authors' inference BN has 2 (scale, shift)."
            )
        channels = targets[0].shape[0]
        scale = _read_blob(layer, 0, (channels,), mapping)
        shift = _read_blob(layer, 1, (channels,), mapping)
        # Keras BN in inference: gamma * (x - mean) / sqrt(var + epsilon)
        # + beta. Mean 0 and variance 1 leave gamma / sqrt(1 + epsilon).
        gamma = scale.astype("float64") * math.sqrt(1 + keras_layer.epsilon)
        keras_layer.set_weights([
            gamma.astype("float32"), shift,
            np.zeros(channels, "float32"), np.ones(channels, "float32"),
        ])
        return
    kernel_shape = tuple(targets[0].shape)
    # Both Caffe layouts reach Keras' by the same axis permutation:
    # conv [out, in, kh, kw] -> [kh, kw, in, out], deconv [in, out, kh, kw]
    # -> [kh, kw, out, in] (Caffe's deconvolution is the transpose of its
    # convolution, like Keras' Conv2DTranspose: no kernel flip).
    caffe_shape = (kernel_shape[3], kernel_shape[2]) + kernel_shape[:2]
    if len(layer.blobs) != len(targets):
        raise ValueError(
            f"Caffe layer '{layer.name}' has {len(layer.blobs)} blobs, but "
            f"Keras layer '{mapping.keras_name}' has {len(targets)} weights "
            f"({'kernel and bias' if len(targets) == 2 else 'kernel only'})."
        )
    values = [_read_blob(layer, 0, caffe_shape, mapping,
                         legacy_ok=False).transpose(2, 3, 1, 0)]
    if len(targets) == 2:
        values.append(_read_blob(layer, 1, (keras_layer.filters,), mapping))
    keras_layer.set_weights(values)


def convert_caffe_model(caffemodel, prototxt=None, architecture="deconvnet",
                        input_shape=None, progress=False):
    """Builds the Keras model of a Caffe DeconvNet or FCN-8s file.

    The number of classes and the channel width are read from the weights
    (the released files give 21 classes and width 1.0). BN layers (the
    authors' inference BN: `y = scale * x + shift`) become Keras
    `BatchNormalization` with moving mean 0, moving variance 1 and
    `gamma = scale * sqrt(1 + epsilon)`, so inference is exact. The
    Caffe BGR mean subtraction is the model's `CaffePreprocessing` layer:
    the Keras model takes RGB images in [0, 255].

    Args:
        caffemodel: the `.caffemodel` (V1 or new layout).
        prototxt: the deploy `.prototxt` (recommended): layer settings
            and the BN mode come from it. The authors saved their
            inference weights from a net whose BN layers still say
            `bn_mode: LEARN`, so only the deploy file proves INFERENCE.
        architecture: `"deconvnet"` (a `keras_deconvnet.DeconvNet`) or
            `"fcn8s"` (a `FCN8sCaffe`, the Caffe geometry).
        input_shape: Keras input shape; default `(224, 224, 3)` (or the
            prototxt's input size) for DeconvNet, `(None, None, 3)` for
            FCN-8s.
        progress: show a progress bar while copying weights.

    Returns:
        The `keras.Model`, in inference form.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: the files do not describe the architecture: the message
            names the layer (missing, extra, wrong type, shape or
            settings) or the place where a truncated file stops.

    Example:

    >>> model = convert_caffe_model(
    ...     "DeconvNet_trainval_inference.caffemodel",
    ...     "DeconvNet_inference_deploy.prototxt")
    >>> model.save("deconvnet_voc.keras")
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"`architecture` must be one of {ARCHITECTURES}. "
            f"Received: architecture={architecture!r}"
        )
    net = read_caffemodel(caffemodel)
    definition = read_prototxt(prototxt) if prototxt is not None else None
    layers = merge_layers(net, definition)
    source = f"'{net.path}'" + (
        f" with '{definition.path}'" if definition else ""
    )
    if definition is not None:
        for layer in definition.layers:
            mode = layer.parameters.get("bn_mode")
            if layer.type == "BN" and mode != "INFERENCE":
                raise ValueError(
                    f"BN layer '{layer.name}' in '{definition.path}' has "
                    f"bn_mode {mode}: it normalises with batch statistics. "
                    "Convert the inference model (BN folded into scale and "
                    "shift, bn_mode: INFERENCE), e.g. "
                    "DeconvNet_trainval_inference.caffemodel with "
                    "DeconvNet_inference_deploy.prototxt."
                )
    mappings = (
        layer_map.deconvnet_layer_map() if architecture == "deconvnet"
        else layer_map.fcn8s_layer_map()
    )
    missing = [
        mapping for mapping in mappings
        if not any(name in layers for name in mapping.caffe_names)
    ]
    if missing:
        listed = ", ".join(
            f"'{m.caffe_names[0]}' (for Keras layer '{m.keras_name}')"
            for m in missing[:6]
        )
        more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        raise ValueError(
            f"No Caffe layer {listed}{more} in {source}. Is "
            f"architecture='{architecture}' the network of these files?"
        )
    matched = [(find_layer(layers, mapping, source), mapping)
               for mapping in mappings]
    used = {layer.name for layer, _ in matched}
    check_structure(layers, used, architecture, source)
    for layer, mapping in matched:
        check_geometry(layer, mapping)

    first_layer = matched[0][0]
    score_layer = next(
        layer for layer, mapping in matched
        if mapping.keras_name in ("seg_score", "score_fr")
    )
    num_classes = int(score_layer.blobs[0].shape[0])
    width = int(first_layer.blobs[0].shape[0]) / 64
    model = _build(architecture, num_classes, width, input_shape, definition)
    keras_names = {mapping.keras_name for mapping in mappings}
    unmapped = [
        layer.name for layer in model.layers
        if layer.weights and layer.name not in keras_names
    ]
    if unmapped:
        raise ValueError(
            f"Keras layers {unmapped} have no Caffe source in the map."
        )
    for layer, mapping in tqdm(matched, desc="Copying Caffe weights",
                               unit="layer", disable=not progress):
        _assign(model, layer, mapping)
    return model


def _build(architecture, num_classes, width, input_shape, definition):
    from keras_deconvnet.caffe.fcn8s_caffe import FCN8sCaffe
    from keras_deconvnet.models import DeconvNet

    if architecture == "fcn8s":
        return FCN8sCaffe(num_classes=num_classes,
                          input_shape=input_shape or (None, None, 3),
                          width=width)
    if input_shape is None:
        dims = definition.input_dims if definition else []
        size = dims[2:4] if len(dims) >= 4 else (224, 224)
        input_shape = (int(size[0]), int(size[1]), 3)
    return DeconvNet(num_classes=num_classes, input_shape=input_shape,
                     width=width)
