"""Reads `.caffemodel` files without Caffe and with bounded memory.

Both layouts of `caffe.NetParameter` are understood: the old `layers`
field (V1LayerParameter, enum layer types; the DeconvNet files use it, with
the authors' `BN = 43` and `UNPOOLING = 42` types) and the newer `layer`
field (LayerParameter, string types). `read_caffemodel` indexes the file:
it keeps every layer's name, type, blobs and parameters, but only the
location of each weight array, which `CaffeBlob.read()` loads when the
converter needs it. Converting the 1 GB DeconvNet model therefore never
holds more than one weight array of the file in memory.
"""

import dataclasses
import os

import numpy as np

from keras_deconvnet.caffe import wire_format
from keras_deconvnet.caffe.layer_parameters import decode_layer_parameters

# V1LayerParameter.LayerType, as in the authors' Caffe fork (BVLC's values
# plus their custom layers), mapped to the newer string type names.
V1_LAYER_TYPES = {
    0: "None", 1: "Accuracy", 2: "BNLL", 3: "Concat", 4: "Convolution",
    5: "Data", 6: "Dropout", 7: "EuclideanLoss", 8: "Flatten",
    9: "HDF5Data", 10: "HDF5Output", 11: "Im2col", 12: "ImageData",
    13: "InfogainLoss", 14: "InnerProduct", 15: "LRN",
    16: "MultinomialLogisticLoss", 17: "Pooling", 18: "ReLU", 19: "Sigmoid",
    20: "Softmax", 21: "SoftmaxWithLoss", 22: "Split", 23: "TanH",
    24: "WindowData", 25: "Eltwise", 26: "Power",
    27: "SigmoidCrossEntropyLoss", 28: "HingeLoss", 29: "MemoryData",
    30: "ArgMax", 31: "Threshold", 32: "DummyData", 33: "Slice", 34: "MVN",
    35: "AbsVal", 36: "Silence", 37: "ContrastiveLoss", 38: "Exp",
    39: "Deconvolution", 40: "Crop", 41: "EltwiseAccuracy",
    42: "Unpooling", 43: "BN", 44: "RedSoftmaxWithLoss", 45: "RedAccuracy",
    46: "ImageSegData", 47: "WindowSegData", 48: "WindowInstSegData",
    49: "BinaryAccuracy", 50: "WindowClsData",
}
V1_TYPE_NUMBERS = {name: number for number, name in V1_LAYER_TYPES.items()}

# Field numbers of NetParameter.
_NET_NAME = 1
_NET_V1_LAYERS = 2
_NET_LAYER = 100
# Fields of V1LayerParameter and LayerParameter that the reader keeps.
_V1_FIELDS = {"bottom": 2, "top": 3, "name": 4, "type": 5, "blobs": 6,
              "v0_layer": 1}
_V2_FIELDS = {"name": 1, "type": 2, "bottom": 3, "top": 4, "blobs": 7}
# Small sub-messages bigger than this are certainly not layer parameters.
_MAX_PARAMETER_BYTES = 1 << 20


@dataclasses.dataclass
class CaffeBlob:
    """One weight array of a layer, located in the file but not loaded.

    Attributes:
        path: the `.caffemodel` file.
        layer_name: the layer that owns the blob.
        index: position among the layer's blobs.
        shape: the blob's shape (`BlobShape`, or the legacy
            num/channels/height/width).
        offset: file offset of the packed values.
        count: number of values.
        dtype: `"float32"` or `"float64"` (`double_data`).
    """

    path: str
    layer_name: str
    index: int
    shape: tuple
    offset: int
    count: int
    dtype: str = "float32"

    def read(self):
        """Loads the values as a `float32` array of shape `self.shape`."""
        if int(np.prod(self.shape)) != self.count:
            raise ValueError(
                f"Blob {self.index} of layer '{self.layer_name}' in "
                f"'{self.path}' has shape {self.shape} but holds "
                f"{self.count} values."
            )
        values = np.empty(self.count, dtype="<f4" if self.dtype ==
                          "float32" else "<f8")
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            read = file.readinto(memoryview(values).cast("B"))
        if read != values.nbytes:
            raise ValueError(
                f"'{self.path}' is truncated: blob {self.index} of layer "
                f"'{self.layer_name}' needs {values.nbytes} bytes at offset "
                f"{self.offset}, only {read} are there."
            )
        return values.astype("float32", copy=False).reshape(self.shape)


@dataclasses.dataclass
class CaffeLayer:
    """A layer of a Caffe net: its identity, weights and parameters."""

    name: str
    type: str
    bottoms: list
    tops: list
    blobs: list
    parameters: dict


@dataclasses.dataclass
class CaffeNet:
    """The layers of a `.caffemodel` (weights located, not loaded).

    Attributes:
        path: the file.
        name: `NetParameter.name`.
        layer_format: `"V1"` (the `layers` field) or `"layer"`.
        layers: the `CaffeLayer`s in file order.
    """

    path: str
    name: str
    layer_format: str
    layers: list

    def layer_names(self):
        return [layer.name for layer in self.layers]


class _BoundedFile:
    """Reads fields from `file` between the current position and `end`."""

    def __init__(self, file, end, path, file_size, context, lenient=False):
        self.file = file
        self.declared_end = end
        self.end = min(end, file_size)
        self.path = path
        self.file_size = file_size
        self.context = context
        # Lenient: a field may run past the end; its reader reports where.
        self.lenient = lenient

    def fields(self):
        while self.file.tell() < self.end:
            key = wire_format.read_varint_from_file(self.file, self.path)
            if key is None:
                raise self.truncated()
            field_number, wire_type = key >> 3, key & 7
            if wire_type == wire_format.VARINT:
                value = wire_format.read_varint_from_file(self.file, self.path)
                if value is None:
                    raise self.truncated()
                yield field_number, wire_type, value, None
            elif wire_type == wire_format.LENGTH_DELIMITED:
                length = wire_format.read_varint_from_file(
                    self.file, self.path
                )
                if length is None:
                    raise self.truncated()
                start = self.file.tell()
                if start + length > self.end and not self.lenient:
                    raise self.truncated()
                yield field_number, wire_type, length, start
                # The consumer may have read part of it; continue after it.
                self.file.seek(start + length)
            elif wire_type in (wire_format.FIXED32, wire_format.FIXED64):
                size = 4 if wire_type == wire_format.FIXED32 else 8
                value = self.file.read(size)
                if len(value) != size:
                    raise self.truncated()
                yield field_number, wire_type, value, None
            else:
                raise ValueError(
                    f"'{self.path}' is not a Caffe model: unknown protobuf "
                    f"wire type {wire_type} at byte {self.file.tell()} "
                    f"({self.context()})."
                )
        if self.declared_end > self.file_size:
            raise self.truncated()

    def truncated(self):
        return ValueError(
            f"'{self.path}' is truncated or corrupt ({self.file_size} bytes): "
            f"the data stops inside {self.context()}."
        )


def _read_blob(file, start, length, path, file_size, layer_name, index):
    shape_fields = {}
    shape = None
    data = None
    bounded = _BoundedFile(
        file, start + length, path, file_size,
        lambda: f"blob {index} of layer '{layer_name}'",
    )
    file.seek(start)
    for field_number, wire_type, value, offset in bounded.fields():
        if field_number in (1, 2, 3, 4) and wire_type == wire_format.VARINT:
            shape_fields[field_number] = wire_format.to_signed(value)
        elif field_number == 7 and offset is not None:  # BlobShape
            shape = []
            for dim_field, dim_type, dim in wire_format.iterate_fields(
                file.read(value)
            ):
                if dim_field == 1:
                    shape.extend(wire_format.decode_packed_varints(
                        dim, dim_type))
            shape = tuple(wire_format.to_signed(dim) for dim in shape)
        elif field_number in (5, 8) and offset is not None:
            item_size = 4 if field_number == 5 else 8
            data = (offset, value // item_size,
                    "float32" if field_number == 5 else "float64")
        elif field_number in (5, 8):
            raise ValueError(
                f"Blob {index} of layer '{layer_name}' in '{path}' stores "
                "its values unpacked; Caffe always writes them packed, so "
                "the file was not written by Caffe."
            )
    if shape is None:
        shape = tuple(shape_fields.get(number, 0) for number in (1, 2, 3, 4))
    if data is None:
        data = (start, 0, "float32")
    return CaffeBlob(path, layer_name, index, shape, *data)


def _read_layer(file, start, length, path, file_size, layer_format, number):
    fields = _V1_FIELDS if layer_format == "V1" else _V2_FIELDS
    names = {value: key for key, value in fields.items()}
    layer = {"name": None, "type": None, "bottom": [], "top": []}
    blob_spans = []
    raw_parameters = {}

    def context():
        name = layer["name"]
        return f"layer '{name}'" if name else f"layer #{number}"

    bounded = _BoundedFile(file, start + length, path, file_size, context)
    file.seek(start)
    for field_number, wire_type, value, offset in bounded.fields():
        role = names.get(field_number)
        if role == "v0_layer":
            raise ValueError(
                f"'{path}' uses the pre-2014 V0 layer format ({context()}); "
                "upgrade it with Caffe's upgrade_net_proto_binary first."
            )
        if role == "blobs" and offset is not None:
            blob_spans.append((offset, value))
        elif role in ("name", "bottom", "top", "type") and offset is not None:
            text = file.read(value).decode("utf-8", "replace")
            if role in ("bottom", "top"):
                layer[role].append(text)
            else:
                layer[role] = text
        elif role == "type" and wire_type == wire_format.VARINT:
            layer["type"] = V1_LAYER_TYPES.get(value, f"V1 type {value}")
        elif offset is not None and value <= _MAX_PARAMETER_BYTES:
            raw_parameters[field_number] = file.read(value)
    name = layer["name"] or f"#{number}"
    blobs = [
        _read_blob(file, blob_start, blob_length, path, file_size, name, i)
        for i, (blob_start, blob_length) in enumerate(blob_spans)
    ]
    file.seek(start + length)
    return CaffeLayer(
        name=name,
        type=layer["type"] or "None",
        bottoms=layer["bottom"],
        tops=layer["top"],
        blobs=blobs,
        parameters=decode_layer_parameters(raw_parameters, layer_format),
    )


def read_caffemodel(path):
    """Indexes the layers and weight arrays of a `.caffemodel` file.

    Args:
        path: a binary `caffe.NetParameter` file, in the V1 (`layers`) or
            the newer (`layer`) layout.

    Returns:
        A `CaffeNet`; weights are read later by `CaffeBlob.read()`.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file is not a Caffe model, is truncated (the
            message names the layer where the data stops), or mixes both
            layer layouts.

    Example:

    >>> net = read_caffemodel("DeconvNet_trainval_inference.caffemodel")
    >>> [layer.name for layer in net.layers][:2]
    ['conv1_1', 'bn1_1']
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No Caffe model file at '{path}'.")
    file_size = os.path.getsize(path)
    net_name = ""
    layers = []
    layer_formats = set()
    with open(path, "rb", buffering=1 << 16) as file:
        bounded = _BoundedFile(
            file, file_size, path, file_size,
            lambda: f"the layer after #{len(layers)}"
            + (f" ('{layers[-1].name}')" if layers else ""),
            lenient=True,
        )
        for field_number, wire_type, value, offset in bounded.fields():
            if offset is None:
                continue
            if field_number == _NET_NAME and value <= _MAX_PARAMETER_BYTES:
                net_name = file.read(value).decode("utf-8", "replace")
            elif field_number in (_NET_V1_LAYERS, _NET_LAYER):
                layer_format = "V1" if field_number == _NET_V1_LAYERS else (
                    "layer")
                layer_formats.add(layer_format)
                layers.append(_read_layer(
                    file, offset, value, path, file_size, layer_format,
                    len(layers),
                ))
    if not layers:
        raise ValueError(
            f"'{path}' holds no Caffe layers: it is not a .caffemodel "
            "(a binary NetParameter), or it is empty."
        )
    if len(layer_formats) > 1:
        raise ValueError(
            f"'{path}' mixes the V1 `layers` and the new `layer` fields; "
            "Caffe never writes such a file."
        )
    return CaffeNet(path, net_name, layer_formats.pop(), layers)
