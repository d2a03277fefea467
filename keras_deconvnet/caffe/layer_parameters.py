"""Layer settings (kernel, pad, stride, BN mode, crop offset) of Caffe layers.

Caffe stores them in sub-messages of a layer (`convolution_param`, ...)
whose field numbers differ between the V1 and the new layer layout. Both
the binary `.caffemodel` and the text `.prototxt` decode to the same plain
dict, so the converter checks geometry the same way for either source:

    {"convolution": {"num_output", "bias_term", "pad", "kernel", "stride",
                     "group"},
     "pooling": {"method", "pad", "kernel", "stride"},
     "bn_mode": "LEARN" | "INFERENCE",
     "crop": {"axis", "offset"}}

(only the keys the layer has). Pairs are `(height, width)`.
"""

from keras_deconvnet.caffe import wire_format

# Sub-message field numbers: (V1LayerParameter, LayerParameter).
_CONVOLUTION = {"V1": 10, "layer": 106}
_POOLING = {"V1": 19, "layer": 121}
_BN = {"V1": 45}
_CROP = {"layer": 144}

_POOL_METHODS = {0: "MAX", 1: "AVE", 2: "STOCHASTIC"}
_BN_MODES = {0: "LEARN", 1: "INFERENCE"}


def _pair(single, height, width, default):
    """Caffe's `pad` / `pad_h` + `pad_w` convention (likewise kernel)."""
    if height is not None or width is not None:
        return (
            default if height is None else height,
            default if width is None else width,
        )
    if not single:
        return (default, default)
    if len(single) == 1:
        return (single[0], single[0])
    return tuple(single[:2])


def _varints(buffer):
    """Field number -> list of ints, for a message of scalar fields."""
    values = {}
    for field_number, wire_type, value in wire_format.iterate_fields(buffer):
        if wire_type in (wire_format.VARINT, wire_format.LENGTH_DELIMITED):
            try:
                items = wire_format.decode_packed_varints(value, wire_type)
            except wire_format.WireFormatError:
                continue
            values.setdefault(field_number, []).extend(items)
    return values


def _first(values, number, default=None):
    return values[number][0] if values.get(number) else default


def _convolution(values):
    return {
        "num_output": _first(values, 1),
        "bias_term": bool(_first(values, 2, 1)),
        "pad": _pair(values.get(3), _first(values, 9), _first(values, 10), 0),
        "kernel": _pair(
            values.get(4), _first(values, 11), _first(values, 12), None
        ),
        "stride": _pair(
            values.get(6), _first(values, 13), _first(values, 14), 1
        ),
        "group": _first(values, 5, 1),
    }


def _pooling(values):
    return {
        "method": _POOL_METHODS.get(_first(values, 1, 0), "?"),
        "kernel": _pair(values.get(2), _first(values, 5), _first(values, 6),
                        None),
        "stride": _pair(values.get(3), _first(values, 7), _first(values, 8),
                        1),
        "pad": _pair(values.get(4), _first(values, 9), _first(values, 10), 0),
    }


def decode_layer_parameters(raw_parameters, layer_format):
    """Decodes binary sub-messages (field number -> bytes) of one layer."""
    parameters = {}
    number = _CONVOLUTION.get(layer_format)
    if number in raw_parameters:
        parameters["convolution"] = _convolution(
            _varints(raw_parameters[number])
        )
    number = _POOLING.get(layer_format)
    if number in raw_parameters:
        parameters["pooling"] = _pooling(_varints(raw_parameters[number]))
    number = _BN.get(layer_format)
    if number in raw_parameters:
        mode = _first(_varints(raw_parameters[number]), 3, 0)
        parameters["bn_mode"] = _BN_MODES.get(mode, str(mode))
    number = _CROP.get(layer_format)
    if number in raw_parameters:
        values = _varints(raw_parameters[number])
        parameters["crop"] = {
            "axis": wire_format.to_signed(_first(values, 1, 2)),
            "offset": tuple(values.get(2, [])),
        }
    return parameters


def _text_ints(message, key):
    return [int(value) for value in message.get(key, [])]


def _text_first(message, key, default=None):
    values = message.get(key)
    return values[0] if values else default


def _text_pair(message, name, prefix, default):
    """`_pair` of a prototxt message's `name` / `<prefix>_h` + `_w` fields."""
    return _pair(
        _text_ints(message, name),
        _text_first(message, f"{prefix}_h"),
        _text_first(message, f"{prefix}_w"),
        default,
    )


def text_layer_parameters(layer):
    """The same dict as `decode_layer_parameters`, from a prototxt layer.

    Args:
        layer: a parsed `layers { ... }` / `layer { ... }` block (field
            name -> list of values, see `prototxt.parse_prototxt`).
    """
    parameters = {}
    message = _text_first(layer, "convolution_param")
    if message is not None:
        parameters["convolution"] = {
            "num_output": _text_first(message, "num_output"),
            "bias_term": _text_first(message, "bias_term", "true")
            in ("true", True, 1),
            "pad": _text_pair(message, "pad", "pad", 0),
            "kernel": _text_pair(message, "kernel_size", "kernel", None),
            "stride": _text_pair(message, "stride", "stride", 1),
            "group": _text_first(message, "group", 1),
        }
    message = _text_first(layer, "pooling_param")
    if message is not None:
        parameters["pooling"] = {
            "method": str(_text_first(message, "pool", "MAX")),
            "kernel": _text_pair(message, "kernel_size", "kernel", None),
            "stride": _text_pair(message, "stride", "stride", 1),
            "pad": _text_pair(message, "pad", "pad", 0),
        }
    message = _text_first(layer, "bn_param")
    if message is not None:
        parameters["bn_mode"] = str(_text_first(message, "bn_mode", "LEARN"))
    message = _text_first(layer, "crop_param")
    if message is not None:
        parameters["crop"] = {
            "axis": int(_text_first(message, "axis", 2)),
            "offset": tuple(_text_ints(message, "offset")),
        }
    return parameters
