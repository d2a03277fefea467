"""FCN-8s with the geometry of the Caffe model (pad 100, crop offsets).

`keras_deconvnet.FCN8s` is the "same"-padded variant that crops at offset
0, convenient for training. The released Caffe FCN-8s (Long, Shelhamer and
Darrell) pads the input by 100 pixels in conv1_1, uses "valid" fc6 and
upsampling deconvolutions, and re-aligns the maps with Crop offsets 5, 9
and 31. Its weights only give the published scores in that geometry,
which this builder reproduces with Keras layers: `ZeroPadding2D(100)`
before a "valid" conv1_1, Caffe's ceil-mode 2x2 max pooling (for 2x2/2
windows exactly Keras' "same" pooling, which pads the end with -inf),
"valid" `Conv2DTranspose`, and `CropToReference(offset=...)`.
"""

import keras

from keras_deconvnet.layers import CaffePreprocessing
from keras_deconvnet.layers import CropToReference
from keras_deconvnet.models import vgg16_encoder
from keras_deconvnet.models.fcn8s import upsample_scores
from keras_deconvnet.models.segmentation_model import SegmentationModel

# The BGR mean of the FCN models (fcn.berkeleyvision.org, voc_layers.py).
FCN_BGR_MEAN = (104.00699, 116.66877, 122.67892)
# conv1_1 padding and the Crop offsets of the Caffe deploy file.
CONV1_PAD = 100
CROP_OFFSETS = {"score_pool4c": 5, "score_pool3c": 9, "score": 31}


def _score(x, num_classes, name):
    return keras.layers.Conv2D(num_classes, 1, dtype="float32", name=name)(x)


def FCN8sCaffe(
    num_classes=21,
    input_shape=(None, None, 3),
    width=1.0,
    name="fcn8s_caffe",
):
    """Builds FCN-8s exactly as the Caffe VOC model computes it.

    Same inputs and outputs as `keras_deconvnet.FCN8s` (RGB in [0, 255],
    float32 raw scores of the input's size) and the same layer names for
    the weights (`conv1_1` ... `fc7`, `score_fr`, `upscore2`,
    `score_pool4`, `upscore_pool4`, `score_pool3`, `upscore8`), so
    `convert_caffe_model(..., architecture="fcn8s")` can fill it.

    Args:
        num_classes: number of output classes (21 for VOC).
        input_shape: `(height, width, 3)`; `None` sizes accept any size.
        width: channel multiplier (1.0 for the released model).
        name: model name.

    Returns:
        A `keras.Model` from `(batch, H, W, 3)` images to
        `(batch, H, W, num_classes)` float32 scores.

    Example:

    >>> model = FCN8sCaffe(num_classes=21, width=0.0625)
    >>> model.predict(np.zeros((1, 100, 120, 3))).shape
    (1, 100, 120, 21)
    """
    if len(tuple(input_shape)) != 3 or tuple(input_shape)[-1] != 3:
        raise ValueError(
            "`input_shape` must be (height, width, 3). "
            f"Received: input_shape={input_shape}"
        )
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"`num_classes` must be a positive int. "
            f"Received: num_classes={num_classes}"
        )
    channels = vgg16_encoder.scaled_channels(
        vgg16_encoder.validate_width(width)
    )
    inputs = keras.Input(tuple(input_shape), name="images")
    x = CaffePreprocessing(mean=FCN_BGR_MEAN, name="preprocessing")(inputs)
    x = keras.layers.ZeroPadding2D(CONV1_PAD, name="conv1_1_pad")(x)
    pools = {}
    for block, layer_count in vgg16_encoder.BLOCK_SIZES:
        filters = channels(vgg16_encoder.CHANNELS[block])
        for index in range(1, layer_count + 1):
            x = vgg16_encoder.conv_bn_relu(
                x,
                filters,
                f"conv{block}_{index}",
                padding="valid" if block == index == 1 else "same",
                bn=False,
            )
        x = keras.layers.MaxPooling2D(
            2, padding="same", name=f"pool{block}"
        )(x)
        pools[block] = x
    for layer_name, kernel_size in (("fc6", 7), ("fc7", 1)):
        x = vgg16_encoder.conv_bn_relu(
            x, channels(4096), layer_name, kernel_size=kernel_size,
            padding="valid", bn=False,
        )
        x = keras.layers.Dropout(0.5, name=f"{layer_name}_dropout")(x)

    score = _score(x, num_classes, "score_fr")
    score = upsample_scores(score, num_classes, 2, "upscore2", padding="valid")
    score_pool4 = _score(pools[4], num_classes, "score_pool4")
    score_pool4 = CropToReference(
        CROP_OFFSETS["score_pool4c"], name="score_pool4c"
    )(score_pool4, score)
    score = keras.layers.Add(name="fuse_pool4")([score, score_pool4])
    score = upsample_scores(score, num_classes, 2, "upscore_pool4", padding="valid")
    score_pool3 = _score(pools[3], num_classes, "score_pool3")
    score_pool3 = CropToReference(
        CROP_OFFSETS["score_pool3c"], name="score_pool3c"
    )(score_pool3, score)
    score = keras.layers.Add(name="fuse_pool3")([score, score_pool3])
    score = upsample_scores(score, num_classes, 8, "upscore8", padding="valid")
    outputs = CropToReference(CROP_OFFSETS["score"], name="score")(
        score, inputs
    )
    return SegmentationModel(inputs, outputs, name=name)
