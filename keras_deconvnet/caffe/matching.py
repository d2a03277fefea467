"""Matches Caffe layers to the Keras name maps, with named errors.

`merge_layers` joins the deploy prototxt (settings) and the caffemodel
(weights); `find_layer`, `check_geometry` and `check_structure` verify
that every mapped layer is there with the right type and settings and
that no other layer would change what the network computes.
"""

from keras_deconvnet.caffe import layer_map


class MergedLayer:
    """A Caffe layer as the converter sees it (definition + weights)."""

    def __init__(self, name, type, parameters, blobs):
        self.name = name
        self.type = type
        self.parameters = parameters
        self.blobs = blobs


def merge_layers(net, definition):
    """Layers by name: settings from the prototxt, weights from the model."""
    weights = {}
    for layer in net.layers:
        if layer.name in weights and layer.blobs:
            raise ValueError(
                f"'{net.path}' has two layers named '{layer.name}'."
            )
        if layer.blobs or layer.name not in weights:
            weights[layer.name] = layer
    if definition is None:
        return {
            layer.name: MergedLayer(layer.name, layer.type, layer.parameters,
                               layer.blobs)
            for layer in net.layers
        }
    layers = {}
    for layer in definition.layers:
        stored = weights.pop(layer.name, None)
        if stored is not None and stored.blobs and stored.type != layer.type:
            raise ValueError(
                f"Layer '{layer.name}' is a {layer.type} in "
                f"'{definition.path}' but a {stored.type} in '{net.path}'."
            )
        layers[layer.name] = MergedLayer(
            layer.name, layer.type, layer.parameters,
            stored.blobs if stored is not None else [],
        )
    unused = [name for name, layer in weights.items() if layer.blobs]
    if unused:
        raise ValueError(
            f"'{net.path}' holds weights for layers that "
            f"'{definition.path}' does not define: {unused}. Use the deploy "
            "prototxt that belongs to this caffemodel."
        )
    return layers


def find_layer(layers, mapping, source):
    present = [name for name in mapping.caffe_names if name in layers]
    if not present:
        raise ValueError(
            f"No Caffe layer '{mapping.caffe_names[0]}' (for Keras layer "
            f"'{mapping.keras_name}') in {source}."
        )
    if len(present) > 1:
        raise ValueError(
            f"Both Caffe layers {present} are in {source}; only one may "
            f"fill Keras layer '{mapping.keras_name}'."
        )
    layer = layers[present[0]]
    if layer.type != mapping.caffe_type:
        raise ValueError(
            f"Caffe layer '{layer.name}' is a {layer.type}, but Keras layer "
            f"'{mapping.keras_name}' needs a {mapping.caffe_type}."
        )
    if not layer.blobs:
        raise ValueError(
            f"Caffe layer '{layer.name}' has no weights in {source}: the "
            "caffemodel is not a trained model of this network."
        )
    return layer


def check_geometry(layer, mapping):
    settings = layer.parameters.get("convolution")
    if settings is None:
        return
    expected = {"pad": (mapping.pad,) * 2, "stride": (mapping.stride,) * 2,
                "group": 1}
    for key, value in expected.items():
        if settings.get(key) is not None and settings[key] != value:
            raise ValueError(
                f"Caffe layer '{layer.name}' has {key}={settings[key]}, but "
                f"Keras layer '{mapping.keras_name}' computes {key}={value}."
            )


def check_structure(layers, used, architecture, source):
    counts = {}
    for name, layer in layers.items():
        if name in used:
            continue
        if layer.blobs:
            raise ValueError(
                f"Caffe layer '{name}' ({layer.type}) holds weights that "
                f"have no place in the Keras {architecture} ({source})."
            )
        if layer.type in layer_map.IGNORED_TYPES or layer.type.endswith(
            layer_map.IGNORED_SUFFIXES
        ):
            continue
        if layer.type not in layer_map.PASSIVE_TYPES:
            raise ValueError(
                f"Caffe layer '{name}' of type {layer.type} has no "
                f"counterpart in the Keras {architecture}."
            )
        counts[layer.type] = counts.get(layer.type, 0) + 1
        pooling = layer.parameters.get("pooling")
        if pooling is not None and (
            pooling["method"] != "MAX" or pooling["kernel"] != (2, 2)
            or pooling["stride"] != (2, 2) or pooling["pad"] != (0, 0)
        ):
            raise ValueError(
                f"Caffe layer '{name}' pools with {pooling}; the Keras "
                f"{architecture} uses 2x2 max pooling, stride 2, no pad."
            )
        if layer.type == "Crop" and architecture == "fcn8s":
            expected = layer_map.FCN8S_CROP_OFFSETS.get(name)
            offsets = layer.parameters.get("crop", {}).get("offset", ())
            if expected is None:
                raise ValueError(
                    f"Caffe Crop layer '{name}' is not one of FCN-8s' "
                    f"{sorted(layer_map.FCN8S_CROP_OFFSETS)}."
                )
            if offsets and set(offsets) != {expected}:
                raise ValueError(
                    f"Caffe Crop layer '{name}' crops at offset {offsets}; "
                    f"the FCN-8s geometry needs {expected}."
                )
    for layer_type, count in layer_map.STRUCTURE[architecture].items():
        if counts.get(layer_type, 0) != count:
            raise ValueError(
                f"A Caffe {architecture} has {count} {layer_type} layers; "
                f"{source} has {counts.get(layer_type, 0)}."
            )
