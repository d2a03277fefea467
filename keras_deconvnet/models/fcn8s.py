"""FCN-8s on the VGG16 encoder, the partner of DeconvNet in EDeconvNet."""

import numpy as np

import keras

from keras_deconvnet.layers import CaffePreprocessing
from keras_deconvnet.layers import CropToReference
from keras_deconvnet.models import vgg16_encoder
from keras_deconvnet.models import weights as weights_module
from keras_deconvnet.models.segmentation_model import SegmentationModel


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class BilinearUpsampling(keras.initializers.Initializer):
    """Kernel of a transposed convolution that upsamples bilinearly.

    FCN initialises its upsampling layers this way (Caffe's "bilinear"
    filler); each class channel maps only to itself.
    """

    def __call__(self, shape, dtype=None):
        kernel_size, _, out_channels, in_channels = shape
        factor = (kernel_size + 1) // 2
        center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
        profile = 1 - np.abs(np.arange(kernel_size) - center) / factor
        kernel = np.zeros(shape, dtype="float32")
        for channel in range(min(in_channels, out_channels)):
            kernel[:, :, channel, channel] = np.outer(profile, profile)
        return keras.ops.convert_to_tensor(kernel, dtype=dtype)

    def get_config(self):
        return {}


def upsample_scores(x, num_classes, factor, name, padding="same"):
    """Learned upsampling of class scores, initialised to bilinear."""
    return keras.layers.Conv2DTranspose(
        num_classes,
        2 * factor,
        strides=factor,
        padding=padding,
        use_bias=False,
        kernel_initializer=BilinearUpsampling(),
        dtype="float32",
        name=name,
    )(x)


def _score(x, num_classes, name, stddev=0.01):
    return keras.layers.Conv2D(
        num_classes,
        1,
        kernel_initializer=keras.initializers.RandomNormal(stddev=stddev),
        dtype="float32",
        name=name,
    )(x)


def FCN8s(
    num_classes=21,
    input_shape=(None, None, 3),
    width=1.0,
    weights=None,
    name="fcn8s",
):
    """Builds FCN-8s (Long, Shelhamer and Darrell, CVPR 2015).

    The VGG16 encoder (no BatchNormalization, as the original), fc6 as a
    7x7 and fc7 as a 1x1 convolution with dropout, then score layers fused
    at strides 32, 16 and 8 with learned upsampling initialised to bilinear
    interpolation. Pooling uses "same" padding and every fusion crops to
    the finer map, so any input size works and the output has the input's
    size. Same input convention as `DeconvNet`: RGB in [0, 255].

    Args:
        num_classes: number of output classes.
        input_shape: `(height, width, 3)`; `None` sizes accept any size.
        width: channel multiplier, as in `DeconvNet`.
        weights: `None`, `"imagenet"`, a VGG16 weight file or a saved FCN8s
            (see `DeconvNet`), or `"pascal_voc"`: the FCN model zoo's
            PASCAL VOC FCN-8s (preset `fcn8s_voc`, 21 classes, width 1.0),
            downloaded and converted on first use, then cached. Those
            weights only give their published scores in the Caffe
            geometry (conv1_1 padded by 100, "valid" fc6 and upsampling,
            crops at offsets 5, 9, 31), so this returns that network, a
            `keras_deconvnet.caffe.FCN8sCaffe`, not the "same"-padded
            variant built otherwise; both map `(batch, H, W, 3)` images to
            `(batch, H, W, 21)` scores.
        name: model name.

    Returns:
        A `keras.Model` from `(batch, H, W, 3)` images to
        `(batch, H, W, num_classes)` float32 scores.
    """
    if len(tuple(input_shape)) != 3 or tuple(input_shape)[-1] != 3:
        raise ValueError(
            "`input_shape` must be (height, width, 3). "
            f"Received: input_shape={input_shape}"
        )

    def caffe_geometry(shape, scale):
        from keras_deconvnet.caffe.fcn8s_caffe import FCN8sCaffe

        return FCN8sCaffe(num_classes, shape, scale)

    preset = weights_module.preset_model(
        "fcn8s", weights, num_classes, width, input_shape, caffe_geometry
    )
    if preset is not None:
        return preset
    width = vgg16_encoder.validate_width(width)
    channels = vgg16_encoder.scaled_channels(width)
    inputs = keras.Input(tuple(input_shape), name="images")
    x = CaffePreprocessing(name="preprocessing")(inputs)
    pools = {}
    for block, layer_count in vgg16_encoder.BLOCK_SIZES:
        x = vgg16_encoder.conv_block(
            x,
            block,
            layer_count,
            channels(vgg16_encoder.CHANNELS[block]),
            bn=False,
        )
        x = keras.layers.MaxPooling2D(
            2, padding="same", name=f"pool{block}"
        )(x)
        pools[block] = x
    for layer_name, kernel_size in (("fc6", 7), ("fc7", 1)):
        x = vgg16_encoder.conv_bn_relu(
            x, channels(4096), layer_name, kernel_size=kernel_size, bn=False
        )
        x = keras.layers.Dropout(0.5, name=f"{layer_name}_dropout")(x)

    score = _score(x, num_classes, "score_fr")
    score = upsample_scores(score, num_classes, 2, "upscore2")
    score_pool4 = _score(pools[4], num_classes, "score_pool4", 0.001)
    score = CropToReference(name="upscore2_crop")(score, score_pool4)
    score = keras.layers.Add(name="fuse_pool4")([score, score_pool4])
    score = upsample_scores(score, num_classes, 2, "upscore_pool4")
    score_pool3 = _score(pools[3], num_classes, "score_pool3", 0.0001)
    score = CropToReference(name="upscore_pool4_crop")(score, score_pool3)
    score = keras.layers.Add(name="fuse_pool3")([score, score_pool3])
    score = upsample_scores(score, num_classes, 8, "upscore8")
    outputs = CropToReference(name="score")(score, inputs)
    model = SegmentationModel(inputs, outputs, name=name)
    weights_module.load_initial_weights(model, weights)
    return model
