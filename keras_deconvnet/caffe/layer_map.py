"""Which Caffe layer fills which Keras layer: the explicit name maps.

Keras names are those of `keras_deconvnet.DeconvNet` and `FCN8sCaffe`;
Caffe names are those of the authors' deploy files. A Keras layer may list
more than one Caffe name when released files differ (the first is the
canonical one); exactly one of them must be present.
"""

import dataclasses

from keras_deconvnet.models import vgg16_encoder
from keras_deconvnet.models.deconvnet import DECODER_BLOCKS


@dataclasses.dataclass(frozen=True)
class LayerMapping:
    """One Keras layer and the Caffe layer that holds its weights.

    Attributes:
        keras_name: the Keras layer.
        caffe_names: accepted Caffe layer names, canonical first.
        kind: `"convolution"` (Caffe `[out, in, kh, kw]` -> Keras
            `Conv2D` `[kh, kw, in, out]`), `"deconvolution"` (Caffe
            `[in, out, kh, kw]` -> `Conv2DTranspose` `[kh, kw, out, in]`)
            or `"scale_shift"` (the authors' inference BN -> Keras
            `BatchNormalization`).
        pad: the Caffe padding this Keras layer reproduces.
        stride: the Caffe stride.
    """

    keras_name: str
    caffe_names: tuple
    kind: str
    pad: int = 0
    stride: int = 1

    @property
    def caffe_type(self):
        return {
            "convolution": "Convolution",
            "deconvolution": "Deconvolution",
            "scale_shift": "BN",
        }[self.kind]


def deconvnet_layer_map():
    """Keras DeconvNet layer -> layer of `DeconvNet_inference_deploy`."""
    mappings = []
    for block, count in vgg16_encoder.BLOCK_SIZES:
        for index in range(1, count + 1):
            name = f"conv{block}_{index}"
            mappings.append(LayerMapping(name, (name,), "convolution", 1))
            mappings.append(LayerMapping(
                f"{name}_bn", (f"bn{block}_{index}",), "scale_shift"))
    for name in ("fc6", "fc7"):
        mappings.append(LayerMapping(name, (name,), "convolution", 0))
        mappings.append(LayerMapping(f"{name}_bn", (f"bn{name}",),
                                     "scale_shift"))
    mappings.append(LayerMapping("fc6_deconv", ("fc6-deconv",),
                                 "deconvolution", 0))
    mappings.append(LayerMapping("fc6_deconv_bn", ("fc6-deconv-bn",),
                                 "scale_shift"))
    for block, filters in DECODER_BLOCKS:
        for index in range(1, len(filters) + 1):
            name = f"deconv{block}_{index}"
            mappings.append(LayerMapping(name, (name,), "deconvolution", 1))
            mappings.append(LayerMapping(
                f"{name}_bn", (f"debn{block}_{index}",), "scale_shift"))
    # The deploy file names the layer 'seg-score-voc' (top 'seg-score').
    mappings.append(LayerMapping("seg_score", ("seg-score-voc", "seg-score"),
                                 "convolution", 0))
    return mappings


def fcn8s_layer_map():
    """Keras `FCN8sCaffe` layer -> layer of the VOC FCN-8s deploy file.

    Second names are those of the original model-zoo FCN-8s (2015), which
    used hyphens and different upsampling names.
    """
    mappings = []
    for block, count in vgg16_encoder.BLOCK_SIZES:
        for index in range(1, count + 1):
            name = f"conv{block}_{index}"
            pad = 100 if name == "conv1_1" else 1
            mappings.append(LayerMapping(name, (name,), "convolution", pad))
    mappings += [
        LayerMapping("fc6", ("fc6",), "convolution"),
        LayerMapping("fc7", ("fc7",), "convolution"),
        LayerMapping("score_fr", ("score_fr", "score-fr"), "convolution"),
        LayerMapping("upscore2", ("upscore2", "score2"), "deconvolution",
                     stride=2),
        LayerMapping("score_pool4", ("score_pool4", "score-pool4"),
                     "convolution"),
        LayerMapping("upscore_pool4", ("upscore_pool4", "score4"),
                     "deconvolution", stride=2),
        LayerMapping("score_pool3", ("score_pool3", "score-pool3"),
                     "convolution"),
        LayerMapping("upscore8", ("upscore8", "upsample"), "deconvolution",
                     stride=8),
    ]
    return mappings


# Weightless Caffe layers each architecture must contain, by type.
STRUCTURE = {
    "deconvnet": {"Pooling": 5, "Unpooling": 5},
    "fcn8s": {"Pooling": 5, "Crop": 3},
}
# FCN-8s Crop offsets (canonical and model-zoo names).
FCN8S_CROP_OFFSETS = {
    "score_pool4c": 5, "score-pool4c": 5,
    "score_pool3c": 9, "score-pool3c": 9,
    "score": 31,
}
# Weightless types that compute nothing the Keras model lacks.
PASSIVE_TYPES = {"ReLU", "Dropout", "Eltwise", "Split", "Silence", "Pooling",
                 "Unpooling", "Crop"}
# Types outside the inference graph (data, losses, metrics, softmax).
IGNORED_SUFFIXES = ("Data", "Input", "Loss", "Accuracy")
IGNORED_TYPES = {"Input", "Softmax", "ArgMax", "None"}
