"""FCN8sCaffe: the Caffe FCN-8s geometry (pad 100, crops 5/9/31)."""

import numpy as np
import pytest

import keras

from keras_deconvnet import FCN8s
from keras_deconvnet.caffe import FCN8sCaffe


def caffe_output_size(size):
    """The Caffe FCN-8s blob sizes, computed by hand from the prototxt."""
    size = size + 2 * 100 - 2  # conv1_1: pad 100, 3x3
    pools = []
    for _ in range(5):
        size = -(-(size - 2) // 2) + 1  # ceil-mode 2x2/2 pooling
        pools.append(size)
    fc7 = pools[4] - 6  # fc6: 7x7 valid
    upscore2 = (fc7 - 1) * 2 + 4
    assert pools[3] >= 5 + upscore2  # score_pool4c fits
    upscore_pool4 = (upscore2 - 1) * 2 + 4
    assert pools[2] >= 9 + upscore_pool4
    upscore8 = (upscore_pool4 - 1) * 8 + 16
    return upscore8


@pytest.mark.parametrize("height, width", [(1, 1), (37, 45), (100, 64)])
def test_output_has_the_input_size(height, width):
    assert caffe_output_size(height) >= 31 + height
    model = FCN8sCaffe(num_classes=3, width=0.0625)
    image = np.zeros((1, height, width, 3), "float32")
    assert model(image).shape == (1, height, width, 3)


def test_weights_have_the_shapes_of_the_core_fcn8s():
    caffe_geometry = FCN8sCaffe(num_classes=3, width=0.0625)
    core = FCN8s(num_classes=3, width=0.0625)
    for layer in caffe_geometry.layers:
        if layer.weights:
            shapes = [tuple(w.shape) for w in layer.weights]
            assert shapes == [
                tuple(w.shape) for w in core.get_layer(layer.name).weights
            ]


def test_config_round_trip_and_bad_arguments():
    model = FCN8sCaffe(num_classes=2, width=0.0625, input_shape=(32, 32, 3))
    clone = keras.Model.from_config(model.get_config())
    assert clone.get_layer("score").offset == (31, 31)
    with pytest.raises(ValueError, match="input_shape"):
        FCN8sCaffe(input_shape=(32, 32))
    with pytest.raises(ValueError, match="num_classes"):
        FCN8sCaffe(num_classes=0)
