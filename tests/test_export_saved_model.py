"""SavedModel export for TF-Serving: layout, signatures, values, CLI."""

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import weakref

import numpy as np
import pytest

import keras

pytest.importorskip("tensorflow")

import tensorflow as tf  # noqa: E402

import keras_deconvnet  # noqa: E402
from keras_deconvnet.export import export_saved_model  # noqa: E402
from keras_deconvnet.inference import Segmenter  # noqa: E402
from tests.conftest import SMALL_WIDTH  # noqa: E402
from tests.conftest import requires_tensorflow  # noqa: E402

pytestmark = requires_tensorflow
NUM_CLASSES = 3
CLASS_NAMES = ("sky", "road", "car")


def tiny_model(seed=7):
    """A small DeconvNet with scores of order 1 and BN statistics unlike a
    batch's (a fresh one, with its std-0.01 decoder, outputs about 1e-15,
    which compares equal to anything)."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = keras_deconvnet.DeconvNet(num_classes=NUM_CLASSES, width=SMALL_WIDTH)
    keras_deconvnet.set_metadata(model, class_names=list(CLASS_NAMES))
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            shape = layer.kernel.shape
            fan_in = shape[0] * shape[1] * min(shape[2], shape[3])
            layer.kernel.assign(rng.normal(0, (2 / fan_in) ** 0.5, shape))
        elif isinstance(layer, keras.layers.BatchNormalization):
            size = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.1, size))
            layer.moving_variance.assign(rng.uniform(0.5, 2, size))
    return model


@functools.lru_cache(maxsize=None)
def exported_tiny_model():
    """`(model, base_path)`: `tiny_model()` exported once per process for
    all export and serving tests (`segment` takes images up to 1000 px)."""
    model = tiny_model()
    folder = tempfile.mkdtemp(prefix="keras_deconvnet_export_")
    weakref.finalize(model, shutil.rmtree, folder, ignore_errors=True)
    base = os.path.join(folder, "deconvnet")
    export_saved_model(model, base, max_image_size=1000)
    return model, base


@pytest.fixture(scope="module")
def model():
    return exported_tiny_model()[0]


@pytest.fixture(scope="module")
def export_path():
    return os.path.join(exported_tiny_model()[1], "1")


@pytest.fixture(scope="module")
def signatures(export_path):
    return tf.saved_model.load(export_path).signatures


def pointwise_model(size=32):
    """Any model on square RGB crops exports; this one does so quickly."""
    inputs = keras.Input((size, size, 3))
    return keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))


def test_layout_versions_and_load_ignores_exports(tmp_path):
    model = pointwise_model()
    models_dir = tmp_path / "saved_models"
    base = models_dir / "deconvnet"
    first = export_saved_model(model, base)
    second = export_saved_model(model, base)
    pinned = export_saved_model(model, base, version=7)
    assert [first, second, pinned] == [str(base / "1"), str(base / "2"), str(base / "7")]
    assert export_saved_model(model, base) == str(base / "8")
    assert sorted(os.listdir(base)) == ["1", "2", "7", "8"]  # no staging left
    for path in (first, pinned):
        assert os.path.isfile(os.path.join(path, "saved_model.pb"))
        assert os.path.isdir(os.path.join(path, "variables"))
    with pytest.raises(ValueError, match="Version 7 already exists"):
        export_saved_model(model, base, version=7)
    with pytest.raises(ValueError, match="positive int"):
        export_saved_model(model, base, version=0)
    # No Keras file in the export: load() of the models folder finds
    # only the .keras model saved beside it, never the export.
    with pytest.raises(FileNotFoundError):
        keras_deconvnet.load(models_dir)
    model.save(models_dir / "tiny.keras")
    loaded = keras_deconvnet.load(models_dir)
    assert loaded.count_params() == model.count_params()
    with pytest.raises(ValueError, match="TensorFlow SavedModel"):
        keras_deconvnet.load(first)


def test_rejects_models_that_do_not_take_square_rgb_crops(tmp_path):
    inputs = keras.Input((32, 48, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    with pytest.raises(ValueError, match="square RGB crops"):
        export_saved_model(model, tmp_path / "bad")


def test_saved_model_cli_lists_the_three_signatures(export_path):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    command = [cli] if os.path.exists(cli) else [
        sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"
    ]
    shown = subprocess.run(
        command + ["show", "--dir", export_path, "--all"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    ).stdout
    blocks = {
        block.split("'")[0]: block
        for block in shown.split("signature_def['")[1:]
    }
    assert {"serving_default", "predict_crops", "segment"} <= set(blocks)
    expected = {
        "predict_crops": [
            ("inputs", "images", "DT_FLOAT", "(-1, 224, 224, 3)"),
            ("outputs", "scores", "DT_FLOAT", f"(-1, 224, 224, {NUM_CLASSES})"),
            ("outputs", "labels", "DT_INT32", "(-1, 224, 224)"),
        ],
        "segment": [
            ("inputs", "image", "DT_UINT8", "(-1, -1, 3)"),
            ("inputs", "boxes", "DT_FLOAT", "(-1, 4)"),
            ("outputs", "labels", "DT_INT32", "(-1, -1)"),
            ("outputs", "scores", "DT_FLOAT", f"(-1, -1, {NUM_CLASSES})"),
        ],
    }
    expected["serving_default"] = expected["predict_crops"]
    for signature, tensors in expected.items():
        for side, name, dtype, shape in tensors:
            listing = (
                f"{side}['{name}'] tensor_info:\n"
                f"        dtype: {dtype}\n        shape: {shape}"
            )
            assert listing in blocks[signature], (signature, listing)


def test_metadata_signature_gives_the_class_names(signatures):
    names = signatures["metadata"]()["class_names"].numpy()
    assert [name.decode() for name in names] == list(CLASS_NAMES)


def test_predict_crops_matches_keras_in_inference_mode(model, signatures, rng):
    images = rng.uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    for name in ("serving_default", "predict_crops"):
        outputs = signatures[name](images=tf.constant(images))
        np.testing.assert_allclose(outputs["scores"], expected, atol=1e-5, rtol=1e-5)
        assert outputs["labels"].dtype == tf.int32
        np.testing.assert_array_equal(outputs["labels"], expected.argmax(-1))
    # Batch statistics (training mode) would give other scores. (On a
    # copy: a training call updates the BN moving statistics.)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    training = keras.ops.convert_to_numpy(copy(images, training=True))
    assert np.abs(training - expected).max() > 1e-2


def test_segment_equals_the_segmenter(model, signatures, rng):
    image = rng.integers(0, 256, (150, 190, 3)).astype("uint8")
    # More boxes than one crop batch (16), reaching outside the image.
    corners = rng.uniform([-20, -20], [100, 130], (20, 2))
    sizes = rng.uniform(30, 120, (20, 2))
    boxes = np.concatenate([corners, corners + sizes], 1).astype("float32")
    outputs = signatures["segment"](image=tf.constant(image), boxes=tf.constant(boxes))
    segmenter = Segmenter(model, batch_size=16)
    expected = segmenter.scores(image, boxes)
    assert outputs["scores"].shape == (150, 190, NUM_CLASSES)
    np.testing.assert_allclose(outputs["scores"], expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(outputs["labels"], segmenter.segment(image, boxes))


@pytest.fixture(scope="module")
def pointwise_export(tmp_path_factory):
    """`(model, segment)`: a pointwise model exported with mean aggregation
    and at most 6 boxes. (Pointwise, unlike DeconvNet, whose pooling
    switches flip on float noise, it compares resampling paths closely.)"""
    model = pointwise_model()
    base = tmp_path_factory.mktemp("pointwise") / "model"
    path = export_saved_model(model, base, aggregation="mean", max_boxes=6)
    return model, tf.saved_model.load(path).signatures["segment"]


def test_segment_pastes_like_tf_image_resize(pointwise_export, rng):
    """Checked without crop_proposals/aggregate, which the Segmenter shares:
    a 40x52 box is resized to the 32 crop and its probabilities back to
    40x52 with tf.image.resize."""
    model, segment = pointwise_export
    inside = rng.integers(0, 256, (40, 52, 3)).astype("uint8")
    image = rng.integers(0, 256, (60, 75, 3)).astype("uint8")
    # Replicated edges: samples just outside the box equal its border
    # pixels, as tf.image.resize of the box alone assumes.
    image[9:51, 19:73] = np.pad(inside, [(1, 1), (1, 1), (0, 0)], "edge")
    box = np.array([[10, 20, 50, 72]], np.float32)
    outputs = segment(image=tf.constant(image), boxes=tf.constant(box))
    crop = tf.image.resize(inside.astype("float32"), (32, 32))
    scores = keras.ops.convert_to_numpy(model(crop[None], training=False))[0]
    expected = tf.image.resize(tf.nn.softmax(scores), (40, 52)).numpy()
    np.testing.assert_allclose(
        outputs["scores"][10:50, 20:72], expected, atol=1e-5
    )
    # No box: background, with probability 1.
    np.testing.assert_array_equal(outputs["scores"][:10, :, 0], 1.0)


def test_segment_with_tile_boxes_and_the_max_boxes_bound(pointwise_export, tmp_path):
    from keras_deconvnet.inference import tile_boxes

    model, segment = pointwise_export
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3)).astype("uint8")
    (boxes,) = tile_boxes(image.shape, 32, 1.0, 0.25)
    assert len(boxes) == 6
    scores = segment(image=tf.constant(image), boxes=tf.constant(boxes))["scores"]
    expected = Segmenter(model, mode="tiles", tile_overlap=0.25).scores(image)
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    seven = tf.constant(np.concatenate([boxes, boxes[:1]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="bound of 6 boxes"):
        segment(image=tf.constant(image), boxes=seven)
    with pytest.raises(ValueError, match="max_boxes"):
        export_saved_model(model, tmp_path / "bad", max_boxes=0)


def test_export_script(tmp_path, capsys):
    model = pointwise_model()
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "serving"))
    try:
        import export as export_script
    finally:
        sys.path.pop(0)
    model.save(tmp_path / "tiny.keras")
    out = tmp_path / "pointwise"
    argv = ["--model", str(tmp_path / "tiny.keras"), "--out", str(out)]
    assert export_script.main(
        argv + ["--version", "3", "--max-boxes", "2", "--aggregation", "mean"]
    ) == 0
    assert os.path.isfile(out / "3" / "saved_model.pb")
    segment = tf.saved_model.load(str(out / "3")).signatures["segment"]
    boxes = tf.constant([[0, 0, 8, 8]] * 3, tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="--max-boxes"):
        segment(image=tf.zeros((8, 8, 3), tf.uint8), boxes=boxes)
    assert "saved_model_cli show" in capsys.readouterr().out
    with pytest.raises(ValueError, match="TensorFlow SavedModel"):
        export_script.main(["--model", str(out / "3"), "--out", str(out)])
