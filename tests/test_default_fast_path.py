"""The default path is the fast one, and exports stay portable.

Pooling layers default to `jit_compile="auto"`: XLA clusters in the
graphs of Keras' `predict`/`fit`, plain ops in every other traced graph.
"""

import os

import numpy as np
import pytest

import keras

from tests.conftest import SMALL_WIDTH
from keras_deconvnet import DeconvNet
from keras_deconvnet.layers import MaxPoolingWithArgmax2D
from keras_deconvnet.layers import set_pooling_jit_compile
from keras_deconvnet.layers import window_utils

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TensorFlow graphs"
)

XLA_OPS = ("XlaCallModule", "XlaLaunch", "_XlaCompile", "_XlaRun")


def xla_nodes(saved_model_dir):
    """Names of nodes that need XLA in a SavedModel's graphs."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as file:
        saved.ParseFromString(file.read())
    found = []
    for meta_graph in saved.meta_graphs:
        graph = meta_graph.graph_def
        nodes = list(graph.node)
        for function in graph.library.function:
            nodes += list(function.node_def)
            if function.attr["_XlaMustCompile"].b:
                found.append(function.signature.name)
        for node in nodes:
            if node.op in XLA_OPS or node.attr["_XlaMustCompile"].b:
                found.append(node.name)
    return found


@pytest.fixture
def model():
    return DeconvNet(num_classes=3, width=SMALL_WIDTH)


def test_predict_uses_xla_pooling_by_default(model, rng):
    images = rng.uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    pooling = [layer for layer in model.layers
               if isinstance(layer, MaxPoolingWithArgmax2D)]
    assert pooling and all(layer.jit_compile == "auto" for layer in pooling)
    fast = model.predict_on_batch(images)
    assert all(layer in window_utils._compiled_functions
               for layer in pooling)
    plain = model(images, training=False)  # eager: the plain ops
    scale = np.abs(plain).max()
    np.testing.assert_allclose(fast, plain, atol=1e-5 * scale)


def test_fit_uses_xla_pooling_by_default(rng):
    from keras_deconvnet.layers import MaxUnpooling2D

    inputs = keras.Input((32, 32, 2))
    pooled, switches = MaxPoolingWithArgmax2D()(inputs)
    outputs = keras.layers.Conv2D(2, 1)(MaxUnpooling2D()(pooled, switches))
    small = keras.Model(inputs, outputs)
    small.compile(optimizer="sgd", loss="mse")
    images = rng.normal(size=(2, 32, 32, 2)).astype("float32")
    small.train_on_batch(images, images)
    assert all(layer in window_utils._compiled_functions
               for layer in small.layers[1:3])


def test_exports_have_no_xla_ops_by_default(model, tmp_path):
    model.export(str(tmp_path / "export"), verbose=False)
    tf.saved_model.save(model, str(tmp_path / "saved"))
    assert xla_nodes(str(tmp_path / "export")) == []
    assert xla_nodes(str(tmp_path / "saved")) == []
    # The scan does find the clusters when the layers are forced on.
    set_pooling_jit_compile(model, True)
    tf.saved_model.save(model, str(tmp_path / "forced"))
    assert xla_nodes(str(tmp_path / "forced"))


@pytest.mark.slow
def test_tflite_converter_gets_builtin_ops_by_default(model, rng):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    images = rng.uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                           images)
    interpreter.invoke()
    scores = interpreter.get_tensor(
        interpreter.get_output_details()[0]["index"])
    expected = model(images, training=False)
    np.testing.assert_allclose(scores, expected,
                               atol=1e-4 * np.abs(expected).max())


def test_jit_compile_setting_is_checked():
    with pytest.raises(ValueError, match="jit_compile"):
        MaxPoolingWithArgmax2D(jit_compile="yes")
