"""Writes `.caffemodel` (and deploy `.prototxt`) files from layer specs.

Used to check the reader and converter without the authors' files: tests
and `benchmarks/convert_caffe_full.py` write random models in the exact
layout Caffe uses (V1 `layers` with legacy 4-D blob dimensions, as the
DeconvNet files, or the newer `layer` with `BlobShape`). Layers are
written one at a time, so a 1 GB model never sits in memory at once.
"""

import os

import numpy as np

from keras_deconvnet.caffe import wire_format
from keras_deconvnet.caffe.caffemodel_reader import V1_TYPE_NUMBERS

_V1 = {"bottom": 2, "top": 3, "name": 4, "type": 5, "blobs": 6,
       "convolution": 10, "pooling": 19, "bn": 45}
_NEW = {"name": 1, "type": 2, "bottom": 3, "top": 4, "blobs": 7,
        "convolution": 106, "pooling": 121, "crop": 144}
_POOL_METHODS = {"MAX": 0, "AVE": 1, "STOCHASTIC": 2}


def _pair_fields(pair, single, height, width):
    if pair is None or pair[0] is None:
        return b""
    if pair[0] == pair[1]:
        return wire_format.encode_varint_field(single, pair[0])
    return wire_format.encode_varint_field(
        height, pair[0]
    ) + wire_format.encode_varint_field(width, pair[1])


def _parameter_messages(parameters, fields):
    encoded = b""
    convolution = parameters.get("convolution")
    if convolution is not None and "convolution" in fields:
        body = wire_format.encode_varint_field(1, convolution["num_output"])
        if not convolution.get("bias_term", True):
            body += wire_format.encode_varint_field(2, 0)
        body += _pair_fields(convolution.get("pad"), 3, 9, 10)
        body += _pair_fields(convolution.get("kernel"), 4, 11, 12)
        body += _pair_fields(convolution.get("stride"), 6, 13, 14)
        if convolution.get("group", 1) != 1:
            body += wire_format.encode_varint_field(5, convolution["group"])
        encoded += wire_format.encode_bytes_field(fields["convolution"], body)
    pooling = parameters.get("pooling")
    if pooling is not None and "pooling" in fields:
        body = wire_format.encode_varint_field(
            1, _POOL_METHODS[pooling.get("method", "MAX")]
        )
        body += _pair_fields(pooling.get("kernel"), 2, 5, 6)
        body += _pair_fields(pooling.get("stride"), 3, 7, 8)
        body += _pair_fields(pooling.get("pad"), 4, 9, 10)
        encoded += wire_format.encode_bytes_field(fields["pooling"], body)
    if "bn_mode" in parameters and "bn" in fields:
        mode = 1 if parameters["bn_mode"] == "INFERENCE" else 0
        encoded += wire_format.encode_bytes_field(
            fields["bn"], wire_format.encode_varint_field(3, mode)
        )
    crop = parameters.get("crop")
    if crop is not None and "crop" in fields:
        body = wire_format.encode_varint_field(1, crop.get("axis", 2))
        for offset in crop.get("offset", ()):
            body += wire_format.encode_varint_field(2, offset)
        encoded += wire_format.encode_bytes_field(fields["crop"], body)
    return encoded


def _blob_header(shape, legacy):
    """The fields of a BlobProto that precede its packed data."""
    if legacy:
        if len(shape) > 4:
            raise ValueError(f"A V1 blob has at most 4 dims: {shape}")
        dims = (1,) * (4 - len(shape)) + tuple(shape)
        return b"".join(
            wire_format.encode_varint_field(number, dim)
            for number, dim in zip((1, 2, 3, 4), dims)
        )
    packed = b"".join(wire_format.encode_varint(dim) for dim in shape)
    shape_message = wire_format.encode_bytes_field(1, packed)
    return wire_format.encode_bytes_field(7, shape_message)


def write_caffemodel(path, layers, blobs_for, layer_format="V1",
                     name="net"):
    """Writes a binary `NetParameter`, streaming one layer at a time.

    Args:
        path: output file.
        layers: `LayerSpec`s (see `network_specs`).
        blobs_for: function `LayerSpec -> list of arrays`, called once per
            layer just before it is written (so arrays can be random and
            short-lived); shapes must match `blob_shapes`.
        layer_format: `"V1"` (`layers`, enum types, legacy 4-D blobs: the
            DeconvNet files' layout) or `"layer"` (string types,
            `BlobShape`).
        name: `NetParameter.name`.
    """
    if layer_format not in ("V1", "layer"):
        raise ValueError(
            "`layer_format` must be 'V1' or 'layer'. "
            f"Received: layer_format={layer_format!r}"
        )
    legacy = layer_format == "V1"
    fields = _V1 if legacy else _NEW
    net_field = 2 if legacy else 100
    with open(os.fspath(path), "wb") as file:
        file.write(wire_format.encode_bytes_field(1, name))
        for spec in layers:
            head = b""
            if legacy:
                head += b"".join(wire_format.encode_bytes_field(
                    fields["bottom"], bottom) for bottom in spec.bottoms)
                head += b"".join(wire_format.encode_bytes_field(
                    fields["top"], top) for top in spec.tops)
                head += wire_format.encode_bytes_field(fields["name"],
                                                       spec.name)
                head += wire_format.encode_varint_field(
                    fields["type"], V1_TYPE_NUMBERS[spec.type])
            else:
                head += wire_format.encode_bytes_field(fields["name"],
                                                       spec.name)
                head += wire_format.encode_bytes_field(fields["type"],
                                                       spec.type)
                head += b"".join(wire_format.encode_bytes_field(
                    fields["bottom"], bottom) for bottom in spec.bottoms)
                head += b"".join(wire_format.encode_bytes_field(
                    fields["top"], top) for top in spec.tops)
            tail = _parameter_messages(spec.parameters, fields)
            arrays = [
                np.ascontiguousarray(array, dtype="<f4")
                for array in blobs_for(spec)
            ] if spec.blob_shapes else []
            blob_parts = []
            for array in arrays:
                header = _blob_header(array.shape, legacy)
                data_header = wire_format.length_delimited_header(
                    5, array.nbytes)
                blob_length = len(header) + len(data_header) + array.nbytes
                blob_parts.append((
                    wire_format.length_delimited_header(fields["blobs"],
                                                        blob_length)
                    + header + data_header,
                    array,
                ))
            layer_length = len(head) + len(tail) + sum(
                len(prefix) + array.nbytes for prefix, array in blob_parts
            )
            file.write(wire_format.length_delimited_header(net_field,
                                                           layer_length))
            # Field order as Caffe writes it (blobs before the params in
            # V1, after the names in the new layout; readers accept any).
            file.write(head)
            for prefix, array in blob_parts:
                file.write(prefix)
                file.write(memoryview(array).cast("B"))
            file.write(tail)
            del arrays, blob_parts


def random_blobs(rng, gain=1.0):
    """A `blobs_for` drawing random weights that keep activations O(1).

    Kernels are He-normal over their fan-in (times `gain`), biases and BN
    shifts small, BN scales in [0.5, 1.5].
    """

    def blobs_for(spec):
        arrays = []
        for index, shape in enumerate(spec.blob_shapes):
            if spec.type == "BN":
                array = (rng.uniform(0.5, 1.5, shape) if index == 0
                         else rng.normal(0.0, 0.1, shape))
            elif index == 0:
                if spec.type == "Deconvolution":
                    stride = spec.parameters["convolution"]["stride"][0]
                    fan_in = shape[0] * shape[2] * shape[3] / stride**2
                else:
                    fan_in = max(1, int(np.prod(shape[1:])))
                array = rng.standard_normal(shape) * gain * np.sqrt(
                    2.0 / fan_in)
            else:
                array = rng.normal(0.0, 0.1, shape)
            arrays.append(array.astype("float32"))
        return arrays

    return blobs_for


def _text_pair(pair, single, height, width):
    if pair is None or pair[0] is None:
        return []
    if pair[0] == pair[1]:
        return [f"{single}: {pair[0]}"]
    return [f"{height}: {pair[0]}", f"{width}: {pair[1]}"]


def prototxt_text(layers, layer_format="V1", input_dims=(1, 3, 224, 224),
                  name="net"):
    """A deploy `.prototxt` for `layers`, in either layout."""
    lines = [f'name: "{name}"', 'input: "data"']
    lines += [f"input_dim: {dim}" for dim in input_dims]
    block = "layers" if layer_format == "V1" else "layer"
    for spec in layers:
        if layer_format == "V1":
            type_text = next(
                key for key in ("CONVOLUTION", "DECONVOLUTION", "BN", "RELU",
                                "POOLING", "UNPOOLING", "DROPOUT", "CROP",
                                "ELTWISE")
                if key.replace("_", "") == spec.type.upper()
            )
        else:
            type_text = f'"{spec.type}"'
        parts = [f'name: "{spec.name}"', f"type: {type_text}"]
        parts += [f'bottom: "{bottom}"' for bottom in spec.bottoms]
        parts += [f'top: "{top}"' for top in spec.tops]
        parameters = spec.parameters
        if "convolution" in parameters:
            settings = parameters["convolution"]
            inner = [f"num_output: {settings['num_output']}"]
            if not settings.get("bias_term", True):
                inner.append("bias_term: false")
            inner += _text_pair(settings.get("pad"), "pad", "pad_h", "pad_w")
            inner += _text_pair(settings.get("kernel"), "kernel_size",
                                "kernel_h", "kernel_w")
            inner += _text_pair(settings.get("stride"), "stride", "stride_h",
                                "stride_w")
            parts.append("convolution_param { " + " ".join(inner) + " }")
        if "pooling" in parameters:
            settings = parameters["pooling"]
            inner = [f"pool: {settings.get('method', 'MAX')}"]
            inner += _text_pair(settings.get("kernel"), "kernel_size",
                                "kernel_h", "kernel_w")
            inner += _text_pair(settings.get("stride"), "stride", "stride_h",
                                "stride_w")
            parts.append("pooling_param { " + " ".join(inner) + " }")
        if "bn_mode" in parameters:
            parts.append(f"bn_param {{ bn_mode: {parameters['bn_mode']} }}")
        if "crop" in parameters:
            settings = parameters["crop"]
            inner = [f"axis: {settings.get('axis', 2)}"]
            inner += [f"offset: {offset}" for offset in settings["offset"]]
            parts.append("crop_param { " + " ".join(inner) + " }")
        lines.append(f"{block} {{ " + "  ".join(parts) + " }")
    return "\n".join(lines) + "\n"
