"""The VGG16 convolutions shared by DeconvNet and FCN-8s."""

import keras

# (block, number of 3x3 convolutions) and channels per block, as in VGG16.
BLOCK_SIZES = ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}

# Encoder layer name -> keras.applications.VGG16 layer name.
VGG16_LAYER_NAMES = {
    f"conv{block}_{index}": f"block{block}_conv{index}"
    for block, count in BLOCK_SIZES
    for index in range(1, count + 1)
}
VGG16_LAYER_NAMES.update({"fc6": "fc1", "fc7": "fc2"})


def validate_width(width):
    if isinstance(width, bool) or not isinstance(width, (int, float)):
        raise ValueError(
            f"`width` must be a positive number. Received: width={width}"
        )
    if not 0 < width <= 4:
        raise ValueError(
            f"`width` must be in (0, 4]. Received: width={width}"
        )
    return float(width)


def scaled_channels(width):
    """Returns a function that scales a paper channel count by `width`."""

    def channels(count):
        return max(1, int(round(count * width)))

    return channels


def conv_bn_relu(x, filters, name, kernel_size=3, padding="same", bn=True,
                 conv_class=keras.layers.Conv2D):
    """Convolution (of `conv_class`), then (optionally) BatchNormalization,
    then ReLU."""
    x = conv_class(
        filters,
        kernel_size,
        padding=padding,
        kernel_initializer="he_normal",
        name=name,
    )(x)
    if bn:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def conv_block(x, block, layer_count, filters, bn=True):
    """The `layer_count` 3x3 convolutions of VGG16 block `block`."""
    for index in range(1, layer_count + 1):
        x = conv_bn_relu(x, filters, f"conv{block}_{index}", bn=bn)
    return x
