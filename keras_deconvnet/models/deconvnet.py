"""DeconvNet: VGG16 encoder, mirrored unpooling/deconvolution decoder."""

import keras

from keras_deconvnet.layers import CaffePreprocessing
from keras_deconvnet.layers import FullWindowConv2D
from keras_deconvnet.layers import FullWindowConv2DTranspose
from keras_deconvnet.layers import MaxPoolingWithArgmax2D
from keras_deconvnet.layers import MaxUnpooling2D
from keras_deconvnet.models import vgg16_encoder
from keras_deconvnet.models import weights as weights_module
from keras_deconvnet.models.segmentation_model import SegmentationModel

# Decoder blocks, mirrored from the encoder (reference layer table):
# (block, [channels of deconv{block}_1, _2, ...]).
DECODER_BLOCKS = (
    (5, (512, 512, 512)),
    (4, (512, 512, 256)),
    (3, (256, 256, 128)),
    (2, (128, 64)),
    (1, (64, 64)),
)


def validate_input_shape(input_shape):
    """Returns `input_shape` as a tuple, or raises naming what is wrong."""
    if input_shape is None or len(tuple(input_shape)) != 3:
        raise ValueError(
            "`input_shape` must be (size, size, 3). "
            f"Received: input_shape={input_shape}"
        )
    height, width, channels = tuple(input_shape)
    if channels != 3:
        raise ValueError(
            "DeconvNet takes RGB images (3 channels). "
            f"Received: input_shape={input_shape}"
        )
    for size in (height, width):
        if size is None or size < 224 or size % 32:
            raise ValueError(
                "DeconvNet needs a fixed square input size that is a "
                "multiple of 32 and at least 224 (five 2x2 poolings, then "
                f"the 7x7 fc6). Received: input_shape={input_shape}"
            )
    if height != width:
        raise ValueError(
            "DeconvNet takes square crops (the paper resizes each proposal "
            f"to 224x224). Received: input_shape={input_shape}"
        )
    return (height, width, channels)


def _deconv_block(x, filters, name, kernel_size=3, padding="same",
                  conv_class=keras.layers.Conv2DTranspose):
    x = conv_class(
        filters,
        kernel_size,
        padding=padding,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
        name=name,
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def DeconvNet(
    num_classes=21,
    input_shape=(224, 224, 3),
    width=1.0,
    weights=None,
    name="deconvnet",
):
    """Builds the DeconvNet of Noh, Hong and Han (ICCV 2015).

    Reference: "Learning Deconvolution Network for Semantic Segmentation",
    https://arxiv.org/abs/1505.04366. With `width=1.0` the layers are those
    of the authors' Caffe model: 13 VGG16 convolutions, fc6 (7x7 valid,
    4096), fc7 (1x1, 4096), fc6-deconv (7x7 transposed, 512), a mirrored
    decoder of 2x2 unpooling (with the encoder's switches) and 3x3
    transposed convolutions, and a 1x1 score layer. BatchNormalization and
    ReLU follow every convolution and deconvolution but the score layer:
    251,805,653 trainable parameters for 21 classes.

    The model takes RGB pixels in [0, 255] and subtracts the Caffe BGR mean
    itself. It outputs raw class scores (no softmax), always in float32 so
    that mixed-precision training keeps the loss stable.

    Args:
        num_classes: number of output classes (21 for PASCAL VOC).
        input_shape: `(size, size, 3)`, size a multiple of 32, >= 224.
        width: multiplier of every channel count; 1.0 is the paper's
            network, smaller values make small models for CPUs and tests.
        weights: `None` (VGG16-style random encoder, decoder drawn from a
            zero-mean Gaussian with std 0.01 as in the paper),
            `"imagenet"` (VGG16 ImageNet encoder from
            `keras.applications`, fc1/fc2 reshaped into fc6/fc7), a path to
            a VGG16 weight file (`.h5`, `.weights.h5`, `.keras`) for the
            same transfer, a path to a DeconvNet saved by this package
            (`.keras` or `.weights.h5`) whose weights are copied, or
            `"pascal_voc"`: the authors' trained VOC network (preset
            `deconvnet_voc`, 21 classes, width 1.0), downloaded from their
            server and converted on first use, then loaded from the Keras
            cache (`keras_deconvnet.load("deconvnet_voc")`).
        name: model name.

    Returns:
        A `keras.Model` mapping `(batch, size, size, 3)` images to
        `(batch, size, size, num_classes)` float32 scores.

    Example:

    >>> model = keras_deconvnet.DeconvNet(num_classes=11, width=0.25)
    >>> scores = model.predict(images)  # (batch, 224, 224, 11)
    >>> voc = keras_deconvnet.DeconvNet(weights="pascal_voc")  # needs network
    """
    input_shape = validate_input_shape(input_shape)
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"`num_classes` must be a positive int. "
            f"Received: num_classes={num_classes}"
        )
    preset = weights_module.preset_model(
        "deconvnet", weights, num_classes, width, input_shape,
        lambda shape, scale: DeconvNet(num_classes, shape, scale, name=name),
    )
    if preset is not None:
        return preset
    width = vgg16_encoder.validate_width(width)
    channels = vgg16_encoder.scaled_channels(width)

    inputs = keras.Input(input_shape, name="images")
    x = CaffePreprocessing(name="preprocessing")(inputs)
    switches = {}
    for block, layer_count in vgg16_encoder.BLOCK_SIZES:
        x = vgg16_encoder.conv_block(
            x, block, layer_count, channels(vgg16_encoder.CHANNELS[block])
        )
        x, switches[block] = MaxPoolingWithArgmax2D(name=f"pool{block}")(x)

    # fc6, fc7 and fc6-deconv are matrix products at 224x224 input (their
    # windows cover their inputs); the FullWindow layers compute them so.
    x = vgg16_encoder.conv_bn_relu(
        x, channels(4096), "fc6", kernel_size=7, padding="valid",
        conv_class=FullWindowConv2D,
    )
    x = vgg16_encoder.conv_bn_relu(
        x, channels(4096), "fc7", kernel_size=1, conv_class=FullWindowConv2D
    )
    x = _deconv_block(
        x, channels(512), "fc6_deconv", kernel_size=7, padding="valid",
        conv_class=FullWindowConv2DTranspose,
    )
    for block, filters in DECODER_BLOCKS:
        x = MaxUnpooling2D(name=f"unpool{block}")(x, switches[block])
        for index, count in enumerate(filters, 1):
            x = _deconv_block(x, channels(count), f"deconv{block}_{index}")
    outputs = keras.layers.Conv2D(
        num_classes,
        1,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
        dtype="float32",
        name="seg_score",
    )(x)
    model = SegmentationModel(inputs, outputs, name=name)
    weights_module.load_initial_weights(model, weights)
    return model
