"""Reading .caffemodel / .prototxt files: round trips and named errors."""

import os

import numpy as np
import pytest

from keras_deconvnet.caffe import read_caffemodel
from keras_deconvnet.caffe import read_prototxt
from keras_deconvnet.caffe import write_caffemodel
from keras_deconvnet.caffe import wire_format
from keras_deconvnet.caffe.caffemodel_writer import prototxt_text
from keras_deconvnet.caffe.caffemodel_writer import random_blobs
from keras_deconvnet.caffe.network_specs import deconvnet_layer_specs
from keras_deconvnet.caffe.network_specs import fcn8s_layer_specs
from keras_deconvnet.caffe.prototxt import parse_prototxt_text

WIDTH = 0.0625


def write_random(path, specs, layer_format, seed=0):
    """Writes random weights for `specs`; returns them by layer name."""
    kept = {}
    draw = random_blobs(np.random.default_rng(seed))

    def blobs_for(spec):
        kept[spec.name] = draw(spec)
        return kept[spec.name]

    write_caffemodel(path, specs, blobs_for, layer_format)
    return kept


@pytest.mark.parametrize("layer_format", ["V1", "layer"])
def test_round_trip_keeps_names_types_settings_and_values(
    tmp_path, layer_format
):
    specs = deconvnet_layer_specs(num_classes=5, width=WIDTH)
    path = tmp_path / "net.caffemodel"
    kept = write_random(path, specs, layer_format)

    net = read_caffemodel(path)

    assert net.layer_format == layer_format
    assert net.layer_names() == [spec.name for spec in specs]
    for spec, layer in zip(specs, net.layers):
        assert layer.type == spec.type
        assert layer.bottoms == spec.bottoms and layer.tops == spec.tops
        assert len(layer.blobs) == len(spec.blob_shapes)
        for blob, expected in zip(layer.blobs, kept.get(spec.name, [])):
            np.testing.assert_array_equal(
                blob.read().reshape(-1), expected.reshape(-1)
            )
        if "convolution" in spec.parameters:
            assert layer.parameters["convolution"] == spec.parameters[
                "convolution"]
    conv = net.layers[0]
    # V1 files keep the legacy 4-D dims (as the DeconvNet release does).
    expected_bias_shape = (1, 1, 1, 4) if layer_format == "V1" else (4,)
    assert conv.blobs[1].shape == expected_bias_shape
    bn = net.layers[1]
    if layer_format == "V1":
        assert bn.parameters["bn_mode"] == "INFERENCE"


def test_new_layout_keeps_crop_offsets(tmp_path):
    specs = fcn8s_layer_specs(num_classes=3, width=WIDTH)
    path = tmp_path / "fcn.caffemodel"
    write_random(path, specs, "layer")
    layers = {layer.name: layer for layer in read_caffemodel(path).layers}
    assert layers["score_pool4c"].parameters["crop"]["offset"] == (5,)
    assert layers["score"].parameters["crop"]["offset"] == (31,)
    assert layers["conv1_1"].parameters["convolution"]["pad"] == (100, 100)
    assert layers["upscore8"].parameters["convolution"]["bias_term"] is False
    assert len(layers["upscore8"].blobs) == 1


def test_truncated_file_names_the_layer_and_file(tmp_path):
    specs = deconvnet_layer_specs(num_classes=5, width=WIDTH)
    path = tmp_path / "net.caffemodel"
    write_random(path, specs, "V1")
    net = read_caffemodel(path)
    fc6_data = next(l for l in net.layers if l.name == "fc6").blobs[0]
    cut = tmp_path / "cut.caffemodel"
    with open(path, "rb") as source, open(cut, "wb") as target:
        target.write(source.read(fc6_data.offset + 100))

    with pytest.raises(ValueError, match=r"truncated.*layer 'fc6'") as info:
        read_caffemodel(cut)
    assert "cut.caffemodel" in str(info.value)


def test_not_a_caffemodel_is_a_clear_error(tmp_path):
    path = tmp_path / "photo.caffemodel"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="photo.caffemodel"):
        read_caffemodel(path)
    with pytest.raises(FileNotFoundError, match="missing.caffemodel"):
        read_caffemodel(tmp_path / "missing.caffemodel")


def test_blob_read_is_lazy_and_exact_for_double_data(tmp_path):
    values = np.arange(6, dtype="<f8") / 7
    blob = (
        wire_format.encode_bytes_field(
            7, wire_format.encode_bytes_field(1, b"\x02\x03"))
        + wire_format.encode_bytes_field(8, values.tobytes())
    )
    layer = (
        wire_format.encode_bytes_field(1, "ip")
        + wire_format.encode_bytes_field(2, "InnerProduct")
        + wire_format.encode_bytes_field(7, blob)
    )
    path = tmp_path / "double.caffemodel"
    path.write_bytes(wire_format.encode_bytes_field(100, layer))
    (read_layer,) = read_caffemodel(path).layers
    assert read_layer.blobs[0].shape == (2, 3)
    np.testing.assert_allclose(
        read_layer.blobs[0].read(), values.reshape(2, 3), rtol=1e-7
    )


def test_prototxt_in_the_authors_style():
    text = """name: "DeconvNet_inference_deploy"
input: "data"
input_dim: 1 input_dim: 3 input_dim: 224 input_dim: 224
# comment
layers {  bottom: "data"  top: "conv1_1"  name: "conv1_1"  type: CONVOLUTION
  blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
  convolution_param {    num_output: 64    pad: 1    kernel_size: 3  }}
layers { bottom: 'conv1_1' top: 'conv1_1' name: 'bn1_1' type: BN
  bn_param { scale_filler { type: 'constant' value: 1 }
             shift_filler { type: 'constant' value: 0.001 }
             bn_mode: INFERENCE } }
layers { type: UNPOOLING  bottom: "a"  bottom: "pool5_mask"  top: "unpool5"
  name: "unpool5"
  unpooling_param {   unpool: MAX   kernel_size: 2    stride: 2   unpool_size: 14 }
}
layers { bottom: 'x' top: 'y' name: 'deconv5_1' type: DECONVOLUTION
  convolution_param { num_output: 512\tpad: 1\tkernel_size: 3 } }
"""
    fields = parse_prototxt_text(text)
    assert fields["input_dim"] == [1, 3, 224, 224]
    names = [layer["name"][0] for layer in fields["layers"]]
    assert names == ["conv1_1", "bn1_1", "unpool5", "deconv5_1"]
    assert fields["layers"][1]["bn_param"][0]["shift_filler"][0]["value"] == [
        0.001]


def test_read_prototxt_normalises_types_and_settings(tmp_path):
    specs = fcn8s_layer_specs(num_classes=3, width=WIDTH)
    for layer_format in ("V1", "layer"):
        path = tmp_path / f"{layer_format}.prototxt"
        path.write_text(prototxt_text(specs, layer_format, (1, 3, 50, 60)))
        net = read_prototxt(path)
        assert net.input_dims == [1, 3, 50, 60]
        assert [layer.name for layer in net.layers] == [s.name for s in specs]
        assert [layer.type for layer in net.layers] == [s.type for s in specs]
        conv = net.layers[0].parameters["convolution"]
        assert conv["pad"] == (100, 100) and conv["kernel"] == (3, 3)


def test_prototxt_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.prototxt"
    path.write_text('name: "x"\nlayers {\n  name: "conv1_1"\n')
    with pytest.raises(ValueError, match=r"broken.prototxt.*line 3"):
        read_prototxt(path)
    assert os.path.exists(path)
