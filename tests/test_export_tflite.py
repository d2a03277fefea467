"""TFLite / LiteRT export: builtin ops only, four quantisation modes."""

import os
import sys

import numpy as np
import pytest

import keras

pytest.importorskip("tensorflow")
Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter

import tensorflow as tf  # noqa: E402

from keras_deconvnet.export import QUANTIZE_MODES  # noqa: E402
from keras_deconvnet.export import export_tflite  # noqa: E402
from keras_deconvnet.export import tflite  # noqa: E402
from keras_deconvnet.export import tflite_operators  # noqa: E402
from tests.conftest import requires_tensorflow  # noqa: E402
from tests.test_export_saved_model import NUM_CLASSES  # noqa: E402
from tests.test_export_saved_model import pointwise_model  # noqa: E402
from tests.test_export_saved_model import exported_tiny_model  # noqa: E402

pytestmark = requires_tensorflow


@pytest.fixture(scope="module")
def model():
    return exported_tiny_model()[0]


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    """Every mode converted once: {mode: path}."""
    folder = tmp_path_factory.mktemp("tflite")
    return {
        mode: export_tflite(
            model, str(folder / f"{mode}.tflite"), quantize=mode,
            num_calibration_images=8,
        )
        for mode in QUANTIZE_MODES
    }


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(5)
    return rng.uniform(0, 255, (2, 224, 224, 3)).astype("float32")


def run_litert(path, images):
    runner = Interpreter(model_path=path).get_signature_runner()
    return np.concatenate(
        [runner(images=image[None])["scores"] for image in images]
    )


def test_float32_matches_keras(model, exported, images):
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    scores = run_litert(exported["none"], images)
    assert scores.shape == (2, 224, 224, NUM_CLASSES)
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=1e-4)


def test_every_mode_has_the_crop_signature(exported):
    # Added to the flatbuffer after conversion (`_with_crop_signature`):
    # LiteRT's signature runner calls the model by these names.
    for mode, path in exported.items():
        interpreter = Interpreter(model_path=path)
        assert interpreter.get_signature_list() == {
            "serving_default": {"inputs": ["images"], "outputs": ["scores"]}
        }, mode
        (image,) = interpreter.get_input_details()
        assert list(image["shape"]) == [1, 224, 224, 3], mode


@pytest.mark.parametrize("mode", ["float16", "dynamic", "int8"])
def test_quantized_modes_run_and_stay_close(exported, images, mode):
    reference = run_litert(exported["none"], images)
    scores = run_litert(exported[mode], images)
    assert scores.dtype == np.float32 and scores.shape == reference.shape
    # The error is well under the spread of the scores. The bound for int8
    # is loose: in this untrained model small activation errors flip
    # pooling switches (the trained model's mIoU change is in the README).
    error = np.sqrt(np.mean((scores - reference) ** 2))
    bound = {"float16": 0.15, "dynamic": 0.3, "int8": 0.8}[mode]
    assert error < bound * reference.std(), (mode, error, reference.std())


def test_sizes_and_operators(exported):
    sizes = {mode: os.path.getsize(path) for mode, path in exported.items()}
    # float16 halves the weights; int8 quarters them.
    assert 0.4 < sizes["float16"] / sizes["none"] < 0.6
    assert 0.2 < sizes["dynamic"] / sizes["none"] < 0.35
    assert 0.2 < sizes["int8"] / sizes["none"] < 0.35
    for mode, path in exported.items():
        with open(path, "rb") as file:
            operators = tflite_operators(file.read())
        assert "CONV_2D" in operators and "TRANSPOSE_CONV" in operators
        assert not [name for name in operators if name.startswith("custom:")]
    with open(exported["int8"], "rb") as file:
        assert "QUANTIZE" in tflite_operators(file.read())
    details = Interpreter(model_path=exported["int8"]).get_tensor_details()
    assert any(detail["dtype"] == np.int8 for detail in details)


class ArgmaxPooling(keras.layers.Layer):
    """Uses `tf.nn.max_pool_with_argmax`, which has no TFLite builtin."""

    def call(self, inputs):
        pooled, _ = tf.nn.max_pool_with_argmax(inputs, 2, 2, "VALID")
        return pooled


def flex_model():
    inputs = keras.Input((8, 8, 3))
    return keras.Model(inputs, ArgmaxPooling()(inputs))


def test_flex_and_custom_ops_fail_loudly(tmp_path):
    with pytest.raises(RuntimeError, match="MaxPoolWithArgmax"):
        export_tflite(flex_model(), str(tmp_path / "flex.tflite"))
    assert not os.path.exists(tmp_path / "flex.tflite")
    # A flatbuffer holding a Flex op (converted with SELECT_TF_OPS).
    converter = tf.lite.TFLiteConverter.from_keras_model(flex_model())
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,
    ]
    with pytest.raises(RuntimeError, match="custom:FlexMaxPoolWithArgmax"):
        tflite.check_builtin_ops(converter.convert())


def test_arguments_are_checked(tmp_path):
    model = pointwise_model()
    with pytest.raises(ValueError, match="quantize"):
        export_tflite(model, str(tmp_path / "m.tflite"), quantize="int4")
    with pytest.raises(ValueError, match="only used by quantize='int8'"):
        export_tflite(model, str(tmp_path / "m.tflite"), calibration_dir=str(tmp_path))
    with pytest.raises(ValueError, match="No image"):
        export_tflite(
            model, str(tmp_path / "m.tflite"), quantize="int8",
            calibration_dir=str(tmp_path),
        )
    with pytest.raises(ValueError, match=".tflite"):
        export_tflite(model, str(tmp_path / "m.bin"))


def test_calibration_folder_images_are_resized_crops(tmp_path):
    from PIL import Image

    for index, size in enumerate([(40, 60), (90, 30)]):
        Image.fromarray(np.full(size + (3,), 10 * index, "uint8")).save(
            tmp_path / f"{index}.png"
        )
    (tmp_path / "notes.txt").write_text("not an image")
    crops = list(tflite.folder_calibration_images(str(tmp_path), 5, 32))
    assert [crop.shape for crop in crops] == [(32, 32, 3), (32, 32, 3)]
    np.testing.assert_allclose(crops[1], 10.0)


def test_export_tflite_script_int8_from_a_folder(tmp_path, capsys):
    from PIL import Image

    model = pointwise_model()
    model.save(tmp_path / "pointwise.keras")
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    for index in range(4):
        Image.fromarray(np.full((40, 40, 3), 60 * index, "uint8")).save(
            calibration / f"{index}.jpg"
        )
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "serving"))
    try:
        import export_tflite as script
    finally:
        sys.path.pop(0)
    out = tmp_path / "pointwise_int8.tflite"
    argv = [
        "--model", str(tmp_path / "pointwise.keras"), "--out", str(out),
        "--quantize", "int8", "--calibration-dir", str(calibration),
    ]
    assert script.main(argv) == 0
    assert "Builtin ops only" in capsys.readouterr().out
    image = np.full((1, 32, 32, 3), 120.0, "float32")
    scores = Interpreter(model_path=str(out)).get_signature_runner()(images=image)
    expected = keras.ops.convert_to_numpy(model(image))
    tolerance = 0.05 * np.abs(expected).max() + 1e-3
    np.testing.assert_allclose(scores["scores"], expected, atol=tolerance)
