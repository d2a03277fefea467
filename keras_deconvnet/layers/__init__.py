"""Layers of keras_deconvnet, all written with `keras.ops` only."""

from keras_deconvnet.layers.caffe_preprocessing import CaffePreprocessing
from keras_deconvnet.layers.crop_to_reference import CropToReference
from keras_deconvnet.layers.max_pooling_with_argmax import (
    MaxPoolingWithArgmax2D,
)
from keras_deconvnet.layers.max_unpooling import MaxUnpooling2D

__all__ = [
    "CaffePreprocessing",
    "CropToReference",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
]
