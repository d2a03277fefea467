"""Layers of keras_deconvnet, all written with `keras.ops` only."""

import contextlib

from keras_deconvnet.layers.caffe_preprocessing import CaffePreprocessing
from keras_deconvnet.layers.crop_to_reference import CropToReference
from keras_deconvnet.layers.full_window_conv import FullWindowConv2D
from keras_deconvnet.layers.full_window_conv import FullWindowConv2DTranspose
from keras_deconvnet.layers.max_pooling_with_argmax import (
    MaxPoolingWithArgmax2D,
)
from keras_deconvnet.layers.max_unpooling import MaxUnpooling2D
from keras_deconvnet.layers.scores_to_labels import ScoresToLabels
from keras_deconvnet.layers.window_utils import jit_compile_override
from keras_deconvnet.layers.winograd_conv import WinogradConv2D

__all__ = [
    "CaffePreprocessing",
    "CropToReference",
    "FullWindowConv2D",
    "FullWindowConv2DTranspose",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "ScoresToLabels",
    "WinogradConv2D",
    "jit_compile_override",
    "pooling_jit_compile",
    "set_pooling_jit_compile",
]


def _pooling_layers(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, (MaxPoolingWithArgmax2D, MaxUnpooling2D))
    ]


def set_pooling_jit_compile(model, enabled=True):
    """Turns XLA clusters for the model's (un)pooling layers on or off.

    `enabled` is `True`, `False` or `"auto"`. Returns the number of
    layers changed. See `MaxPoolingWithArgmax2D(jit_compile=...)`.
    """
    from keras_deconvnet.layers.window_utils import check_jit_compile

    enabled = check_jit_compile(enabled)
    layers = _pooling_layers(model)
    for layer in layers:
        layer.jit_compile = enabled
    return len(layers)


@contextlib.contextmanager
def pooling_jit_compile(model, enabled=True):
    """`set_pooling_jit_compile` for a block, then the previous values.

    Graphs traced inside the block keep what they were traced with.
    """
    layers = _pooling_layers(model)
    previous = [layer.jit_compile for layer in layers]
    try:
        for layer in layers:
            layer.jit_compile = bool(enabled)
        yield
    finally:
        for layer, value in zip(layers, previous):
            layer.jit_compile = value
