"""The authors' Caffe networks, layer by layer, at any width.

`deconvnet_layer_specs` follows `model/DeconvNet/DeconvNet_inference_deploy
.prototxt` of HyeonwooNoh/DeconvNet (V1 layers; BN in INFERENCE mode holds
only a scale and a shift) and `fcn8s_layer_specs` the VOC FCN-8s deploy
file of fcn.berkeleyvision.org (conv1_1 pad 100, Crop offsets 5, 9, 31).
They describe names, types, connections, settings and weight shapes; the
tests and the conversion benchmark write random `.caffemodel` files from
them, and the converter's name map is checked against them.
"""

import dataclasses

from keras_deconvnet.models import vgg16_encoder
from keras_deconvnet.models.deconvnet import DECODER_BLOCKS


@dataclasses.dataclass
class LayerSpec:
    """One Caffe layer: identity, settings and its blobs' shapes."""

    name: str
    type: str
    bottoms: list
    tops: list
    parameters: dict = dataclasses.field(default_factory=dict)
    blob_shapes: list = dataclasses.field(default_factory=list)


def _convolution(name, layer_type, bottom, top, inputs, outputs, kernel,
                 pad=0, stride=1, bias=True):
    if layer_type == "Deconvolution":
        weight_shape = (inputs, outputs, kernel, kernel)
    else:
        weight_shape = (outputs, inputs, kernel, kernel)
    return LayerSpec(
        name, layer_type, [bottom], [top],
        {"convolution": {"num_output": outputs, "bias_term": bias,
                         "pad": (pad, pad), "kernel": (kernel, kernel),
                         "stride": (stride, stride), "group": 1}},
        [weight_shape] + ([(outputs,)] if bias else []),
    )


def _bn(name, blob, channels):
    return LayerSpec(name, "BN", [blob], [blob], {"bn_mode": "INFERENCE"},
                     [(1, channels, 1, 1), (1, channels, 1, 1)])


def _relu(name, blob):
    return LayerSpec(name, "ReLU", [blob], [blob])


def _pooling(block, bottom, with_mask):
    tops = [f"pool{block}"] + ([f"pool{block}_mask"] if with_mask else [])
    return LayerSpec(
        f"pool{block}", "Pooling", [bottom], tops,
        {"pooling": {"method": "MAX", "kernel": (2, 2), "stride": (2, 2),
                     "pad": (0, 0)}},
    )


def deconvnet_layer_specs(num_classes=21, width=1.0):
    """The layers of the authors' DeconvNet inference deploy file.

    Args:
        num_classes: outputs of the score layer `seg-score-voc`.
        width: channel multiplier, as `keras_deconvnet.DeconvNet`'s.

    Returns:
        A list of `LayerSpec`, in the prototxt's order.
    """
    channels = vgg16_encoder.scaled_channels(width)
    specs = []
    blob, depth = "data", 3
    for block, count in vgg16_encoder.BLOCK_SIZES:
        outputs = channels(vgg16_encoder.CHANNELS[block])
        for index in range(1, count + 1):
            name = f"conv{block}_{index}"
            specs.append(_convolution(name, "Convolution", blob, name, depth,
                                      outputs, 3, pad=1))
            specs.append(_bn(f"bn{block}_{index}", name, outputs))
            specs.append(_relu(f"relu{block}_{index}", name))
            blob, depth = name, outputs
        specs.append(_pooling(block, blob, with_mask=True))
        blob = f"pool{block}"
    fc_channels = channels(4096)
    for name, bn_name, relu_name, kernel in (
        ("fc6", "bnfc6", "relu6", 7), ("fc7", "bnfc7", "relu7", 1)
    ):
        specs.append(_convolution(name, "Convolution", blob, name, depth,
                                  fc_channels, kernel))
        specs.append(_bn(bn_name, name, fc_channels))
        specs.append(_relu(relu_name, name))
        blob, depth = name, fc_channels
    outputs = channels(512)
    specs.append(_convolution("fc6-deconv", "Deconvolution", blob,
                              "fc6-deconv", depth, outputs, 7))
    specs.append(_bn("fc6-deconv-bn", "fc6-deconv", outputs))
    specs.append(_relu("fc6-deconv-relu", "fc6-deconv"))
    blob, depth = "fc6-deconv", outputs
    for block, filters in DECODER_BLOCKS:
        specs.append(LayerSpec(
            f"unpool{block}", "Unpooling", [blob, f"pool{block}_mask"],
            [f"unpool{block}"],
        ))
        blob = f"unpool{block}"
        for index, count in enumerate(filters, 1):
            name = f"deconv{block}_{index}"
            outputs = channels(count)
            specs.append(_convolution(name, "Deconvolution", blob, name,
                                      depth, outputs, 3, pad=1))
            specs.append(_bn(f"debn{block}_{index}", name, outputs))
            specs.append(_relu(f"derelu{block}_{index}", name))
            blob, depth = name, outputs
    specs.append(_convolution("seg-score-voc", "Convolution", blob,
                              "seg-score", depth, num_classes, 1))
    return specs


def fcn8s_layer_specs(num_classes=21, width=1.0):
    """The layers of the VOC FCN-8s deploy file (fcn.berkeleyvision.org).

    Args:
        num_classes: outputs of the score layers.
        width: channel multiplier of the VGG16 part.

    Returns:
        A list of `LayerSpec`, in the prototxt's order.
    """
    channels = vgg16_encoder.scaled_channels(width)
    specs = []
    blob, depth = "data", 3
    for block, count in vgg16_encoder.BLOCK_SIZES:
        outputs = channels(vgg16_encoder.CHANNELS[block])
        for index in range(1, count + 1):
            name = f"conv{block}_{index}"
            pad = 100 if name == "conv1_1" else 1
            specs.append(_convolution(name, "Convolution", blob, name, depth,
                                      outputs, 3, pad=pad))
            specs.append(_relu(f"relu{block}_{index}", name))
            blob, depth = name, outputs
        specs.append(_pooling(block, blob, with_mask=False))
        blob = f"pool{block}"
    fc_channels = channels(4096)
    for name, number, kernel in (("fc6", 6, 7), ("fc7", 7, 1)):
        specs.append(_convolution(name, "Convolution", blob, name, depth,
                                  fc_channels, kernel))
        specs.append(_relu(f"relu{number}", name))
        specs.append(LayerSpec(f"drop{number}", "Dropout", [name], [name]))
        blob, depth = name, fc_channels

    def crop(name, bottom, reference, offset):
        return LayerSpec(name, "Crop", [bottom, reference], [name],
                         {"crop": {"axis": 2, "offset": (offset,)}})

    def fuse(name, first, second):
        return LayerSpec(name, "Eltwise", [first, second], [name])

    specs += [
        _convolution("score_fr", "Convolution", "fc7", "score_fr",
                     fc_channels, num_classes, 1),
        _convolution("upscore2", "Deconvolution", "score_fr", "upscore2",
                     num_classes, num_classes, 4, stride=2, bias=False),
        _convolution("score_pool4", "Convolution", "pool4", "score_pool4",
                     channels(512), num_classes, 1),
        crop("score_pool4c", "score_pool4", "upscore2", 5),
        fuse("fuse_pool4", "upscore2", "score_pool4c"),
        _convolution("upscore_pool4", "Deconvolution", "fuse_pool4",
                     "upscore_pool4", num_classes, num_classes, 4, stride=2,
                     bias=False),
        _convolution("score_pool3", "Convolution", "pool3", "score_pool3",
                     channels(256), num_classes, 1),
        crop("score_pool3c", "score_pool3", "upscore_pool4", 9),
        fuse("fuse_pool3", "upscore_pool4", "score_pool3c"),
        _convolution("upscore8", "Deconvolution", "fuse_pool3", "upscore8",
                     num_classes, num_classes, 16, stride=8, bias=False),
        crop("score", "upscore8", "data", 31),
    ]
    return specs
