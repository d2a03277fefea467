"""Initial weights for the models: ImageNet VGG16 transfer or saved files."""

import json
import os
import zipfile

import numpy as np

import keras

from keras_deconvnet.models import vgg16_encoder

_VGG16_MARKER = "block1_conv1"


def layer_names_in_file(path):
    """Returns the set of layer names stored in a `.keras` or `.h5` file."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        names = set()

        def walk(node):
            if isinstance(node, dict):
                if isinstance(node.get("name"), str):
                    names.add(node["name"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(config)
        return names
    import h5py

    names = set()
    try:
        with h5py.File(path, "r") as file:
            file.visit(lambda key: names.update(key.split("/")))
    except OSError as error:
        raise ValueError(
            f"Cannot read weights from '{path}': it is neither a Keras "
            f"archive (.keras) nor an HDF5 file ({error})."
        ) from None
    return names


def _vgg16(source):
    try:
        return keras.applications.VGG16(include_top=True, weights=source)
    except Exception as error:
        if source == "imagenet":
            raise ValueError(
                "Could not get the ImageNet VGG16 weights "
                f"({type(error).__name__}: {error}). Without network access, "
                "pass the path of a VGG16 weight file instead, e.g. "
                "weights='vgg16_weights_tf_dim_ordering_tf_kernels.h5'."
            ) from error
        raise ValueError(
            f"'{source}' looks like a VGG16 file but does not load into "
            "keras.applications.VGG16(include_top=True) "
            f"({type(error).__name__}: {error})."
        ) from error


def transfer_vgg16(model, source="imagenet"):
    """Copies a VGG16's convolutions and fc1/fc2 into `model`'s encoder.

    fc1 (a Dense layer over the flattened 7x7x512 pool5) becomes the 7x7
    convolution fc6 and fc2 the 1x1 convolution fc7, as in the paper's
    fully convolutional VGG16. Every encoder tensor is copied exactly; the
    decoder keeps its fresh initialisation.

    Args:
        model: a DeconvNet or FCN8s built with `width=1.0`.
        source: `"imagenet"`, a `keras.applications.VGG16` instance, or the
            path of a VGG16 weight file.
    """
    vgg = source if isinstance(source, keras.Model) else _vgg16(source)
    for name, vgg_name in vgg16_encoder.VGG16_LAYER_NAMES.items():
        layer = model.get_layer(name)
        kernel, bias = vgg.get_layer(vgg_name).get_weights()
        target_shape = tuple(layer.kernel.shape)
        if kernel.size != np.prod(target_shape) or bias.shape != (
            target_shape[-1],
        ):
            raise ValueError(
                f"Cannot copy VGG16 layer '{vgg_name}' (kernel "
                f"{kernel.shape}) into '{name}' (kernel {target_shape}). "
                "The ImageNet transfer needs width=1.0."
            )
        layer.set_weights([kernel.reshape(target_shape), bias])


def copy_weights_by_name(model, source):
    """Copies every weighted layer of `model` from the same-named layer."""
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            source_layer = source.get_layer(layer.name)
        except ValueError:
            raise ValueError(
                f"The saved model '{source.name}' has no layer "
                f"'{layer.name}', so it cannot initialise '{model.name}'."
            ) from None
        values = source_layer.get_weights()
        shapes = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != shapes:
            raise ValueError(
                f"Layer '{layer.name}' has weights of shapes {shapes} but "
                f"the saved model holds {[v.shape for v in values]}. Build "
                "the model with the same num_classes and width."
            )
        layer.set_weights(values)


# `weights=` names of the published models, per builder.
PRESET_WEIGHTS = {
    "deconvnet": {"pascal_voc": "deconvnet_voc"},
    "fcn8s": {"pascal_voc": "fcn8s_voc"},
}


def preset_model(architecture, weights, num_classes, width, input_shape,
                 build):
    """The published model for `weights="pascal_voc"`, else None.

    Args:
        architecture: `"deconvnet"` or `"fcn8s"`.
        weights: the builder's `weights` argument.
        num_classes, width: must be the preset's (21 and 1.0).
        input_shape: the builder's input shape; when it differs from the
            preset's, the weights are copied into `build(input_shape)`.
        build: function `(input_shape, width) -> model` of the preset's
            geometry (the width of the converted files: 1.0 for the
            released ones).
    """
    name = PRESET_WEIGHTS[architecture].get(weights) if isinstance(
        weights, str) else None
    if name is None:
        return None
    if num_classes != 21 or width != 1.0:
        raise ValueError(
            f"weights={weights!r} is the authors' 21-class VOC network at "
            "width 1.0: pass num_classes=21 and width=1.0. Received: "
            f"num_classes={num_classes}, width={width}"
        )
    from keras_deconvnet.model_metadata import set_metadata
    from keras_deconvnet.model_metadata import stored_metadata
    from keras_deconvnet.presets import load_preset

    model = load_preset(name)
    if tuple(model.input_shape[1:]) == tuple(input_shape):
        return model
    resized = build(tuple(input_shape), model.get_layer("conv1_1").filters
                    / vgg16_encoder.CHANNELS[1])
    copy_weights_by_name(resized, model)
    return set_metadata(resized, **stored_metadata(model))


def load_initial_weights(model, weights):
    """Applies a model constructor's `weights` argument to `model`."""
    if weights is None:
        return
    if weights == "imagenet":
        transfer_vgg16(model, "imagenet")
        return
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"`weights` must be None, 'imagenet' or the path of a weight "
            f"file, but no file exists at '{path}'."
        )
    if _VGG16_MARKER in layer_names_in_file(path):
        transfer_vgg16(model, path)
    elif zipfile.is_zipfile(path):
        source = keras.saving.load_model(path, compile=False)
        copy_weights_by_name(model, source)
    else:
        # Keras 3 `.weights.h5` files name groups by layer class, not by
        # layer name: try this model's own layout first, then VGG16's.
        try:
            model.load_weights(path)
        except ValueError as own_error:
            try:
                transfer_vgg16(model, path)
            except ValueError as vgg_error:
                raise ValueError(
                    f"'{path}' fits neither '{model.name}' ({own_error}) "
                    f"nor a VGG16 ({vgg_error})."
                ) from None
