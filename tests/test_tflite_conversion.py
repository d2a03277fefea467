"""The core layers and a small DeconvNet convert to TFLite builtins only."""

import numpy as np
import pytest

import keras

import keras_deconvnet
from tests import layer_testing
from tests.conftest import SMALL_WIDTH
from tests.conftest import requires_tensorflow

pytestmark = requires_tensorflow


def convert_builtins_only(model):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def operator_names(flatbuffer):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    return {op["op_name"] for op in interpreter._get_ops_details()}


def run_litert(flatbuffer, x):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_small_deconvnet_runs_in_litert_with_builtins_only():
    pytest.importorskip("ai_edge_litert")
    model = keras_deconvnet.DeconvNet(num_classes=4, width=SMALL_WIDTH)
    rng = np.random.default_rng(0)
    calibration = rng.uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    layer_testing.make_informative(model, calibration)
    flatbuffer = convert_builtins_only(model)
    ops = operator_names(flatbuffer)
    assert {"CONV_2D", "TRANSPOSE_CONV", "MAXIMUM", "SELECT_V2"} <= ops, ops
    assert not any("FLEX" in op or "CUSTOM" in op for op in ops), ops
    x = rng.uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    assert np.abs(expected).max() > 0.1  # a comparison that could fail
    np.testing.assert_allclose(run_litert(flatbuffer, x), expected, atol=1e-4)


def test_pooling_round_trip_with_ties_in_litert():
    pytest.importorskip("ai_edge_litert")
    from keras_deconvnet.layers import MaxPoolingWithArgmax2D, MaxUnpooling2D

    inputs = keras.Input((8, 8, 3), batch_size=1)
    relu = keras.layers.ReLU()(inputs)
    outputs = MaxUnpooling2D()(*MaxPoolingWithArgmax2D()(relu))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).integers(-2, 3, (1, 8, 8, 3)).astype("float32")
    result = run_litert(convert_builtins_only(model), x)
    np.testing.assert_array_equal(result, model.predict(x, verbose=0))
