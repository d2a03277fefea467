"""The hand-written wire format agrees with the protobuf runtime.

A subset of caffe.proto (field numbers as in BVLC Caffe and the authors'
fork) is declared here with `descriptor_pb2`, so the official protobuf
parser can read files our writer made and write files our reader reads.
"""

import numpy as np
import pytest

from keras_deconvnet.caffe import read_caffemodel
from keras_deconvnet.caffe.network_specs import deconvnet_layer_specs
from keras_deconvnet.caffe.network_specs import fcn8s_layer_specs
from tests.test_caffe_reader import write_random

descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
from google.protobuf import descriptor_pool  # noqa: E402
from google.protobuf import message_factory  # noqa: E402

Field = descriptor_pb2.FieldDescriptorProto
MESSAGES = {
    "BlobShape": [("dim", 1, Field.TYPE_INT64, True, None)],
    "BlobProto": [
        ("num", 1, Field.TYPE_INT32, False, None),
        ("channels", 2, Field.TYPE_INT32, False, None),
        ("height", 3, Field.TYPE_INT32, False, None),
        ("width", 4, Field.TYPE_INT32, False, None),
        ("data", 5, Field.TYPE_FLOAT, True, None),
        ("shape", 7, Field.TYPE_MESSAGE, False, "BlobShape"),
    ],
    "ConvolutionParameter": [
        ("num_output", 1, Field.TYPE_UINT32, False, None),
        ("bias_term", 2, Field.TYPE_BOOL, False, None),
        ("pad", 3, Field.TYPE_UINT32, "repeated", None),
        ("kernel_size", 4, Field.TYPE_UINT32, "repeated", None),
        ("stride", 6, Field.TYPE_UINT32, "repeated", None),
    ],
    "V1LayerParameter": [
        ("bottom", 2, Field.TYPE_STRING, "repeated", None),
        ("top", 3, Field.TYPE_STRING, "repeated", None),
        ("name", 4, Field.TYPE_STRING, False, None),
        ("type", 5, Field.TYPE_INT32, False, None),
        ("blobs", 6, Field.TYPE_MESSAGE, "repeated", "BlobProto"),
        ("convolution_param", 10, Field.TYPE_MESSAGE, False,
         "ConvolutionParameter"),
    ],
    "LayerParameter": [
        ("name", 1, Field.TYPE_STRING, False, None),
        ("type", 2, Field.TYPE_STRING, False, None),
        ("bottom", 3, Field.TYPE_STRING, "repeated", None),
        ("top", 4, Field.TYPE_STRING, "repeated", None),
        ("blobs", 7, Field.TYPE_MESSAGE, "repeated", "BlobProto"),
        ("convolution_param", 106, Field.TYPE_MESSAGE, False,
         "ConvolutionParameter"),
    ],
    "NetParameter": [
        ("name", 1, Field.TYPE_STRING, False, None),
        ("layers", 2, Field.TYPE_MESSAGE, "repeated", "V1LayerParameter"),
        ("layer", 100, Field.TYPE_MESSAGE, "repeated", "LayerParameter"),
    ],
}


@pytest.fixture(scope="module")
def net_parameter():
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="caffe_subset_test.proto", package="caffe_subset_test",
        syntax="proto2",
    )
    for message_name, fields in MESSAGES.items():
        message = file_proto.message_type.add(name=message_name)
        for name, number, field_type, repeated, type_name in fields:
            field = message.field.add(name=name, number=number,
                                      type=field_type)
            field.label = (Field.LABEL_REPEATED if repeated
                           else Field.LABEL_OPTIONAL)
            if repeated is True:  # packed numeric arrays
                field.options.packed = True
            if type_name:
                field.type_name = f".caffe_subset_test.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("caffe_subset_test.NetParameter")
    )


@pytest.mark.parametrize("layer_format", ["V1", "layer"])
def test_protobuf_parses_what_we_write(tmp_path, net_parameter,
                                       layer_format):
    specs = deconvnet_layer_specs(num_classes=3, width=0.0625)
    path = tmp_path / "ours.caffemodel"
    kept = write_random(path, specs, layer_format)

    net = net_parameter.FromString(path.read_bytes())

    layers = net.layers if layer_format == "V1" else net.layer
    assert [layer.name for layer in layers] == [s.name for s in specs]
    conv = layers[0]
    assert conv.convolution_param.num_output == 4
    np.testing.assert_array_equal(
        np.array(conv.blobs[0].data, "float32"),
        kept["conv1_1"][0].reshape(-1),
    )
    if layer_format == "V1":
        assert conv.type == 4  # CONVOLUTION
        assert (conv.blobs[0].num, conv.blobs[0].channels) == (4, 3)
    else:
        assert conv.type == "Convolution"
        assert list(conv.blobs[0].shape.dim) == [4, 3, 3, 3]


def test_we_read_what_protobuf_writes(tmp_path, net_parameter):
    rng = np.random.default_rng(0)
    net = net_parameter(name="fcn")
    expected = {}
    for spec in fcn8s_layer_specs(num_classes=3, width=0.0625)[:6]:
        layer = net.layer.add(name=spec.name, type=spec.type)
        layer.bottom.extend(spec.bottoms)
        layer.top.extend(spec.tops)
        if "convolution" in spec.parameters:
            settings = spec.parameters["convolution"]
            layer.convolution_param.num_output = settings["num_output"]
            layer.convolution_param.pad.append(settings["pad"][0])
            layer.convolution_param.kernel_size.append(settings["kernel"][0])
        for shape in spec.blob_shapes:
            values = rng.standard_normal(shape).astype("float32")
            blob = layer.blobs.add()
            blob.shape.dim.extend(shape)
            blob.data.extend(values.reshape(-1).tolist())
            expected.setdefault(spec.name, []).append(values)
    path = tmp_path / "theirs.caffemodel"
    path.write_bytes(net.SerializeToString())

    read = read_caffemodel(path)

    assert read.name == "fcn" and read.layer_format == "layer"
    for layer in read.layers:
        for blob, values in zip(layer.blobs, expected.get(layer.name, [])):
            np.testing.assert_array_equal(blob.read(), values)
    assert read.layers[0].parameters["convolution"]["pad"] == (100, 100)
