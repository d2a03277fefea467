import os
import time

import numpy as np
import pytest

import keras_deconvnet
from tests import layer_testing
from tests.conftest import SMALL_WIDTH


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    directory = tmp_path_factory.mktemp("models")
    model = keras_deconvnet.DeconvNet(num_classes=3, width=SMALL_WIDTH)
    images = np.random.default_rng(5).uniform(0, 255, (2, 224, 224, 3))
    layer_testing.make_informative(model, images.astype("float32"))
    path = directory / "deconvnet.keras"
    model.save(path)
    return model, path


def test_round_trip_gives_identical_outputs(saved):
    model, path = saved
    loaded = keras_deconvnet.load(path)
    x = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    assert np.abs(expected).max() > 0.1
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]


def test_directory_loads_the_newest_model(saved, tmp_path):
    model, path = saved
    older = tmp_path / "a" / "older.keras"
    older.parent.mkdir()
    keras_deconvnet.DeconvNet(num_classes=5, width=SMALL_WIDTH).save(older)
    newest = tmp_path / "newest.keras"
    newest.write_bytes(path.read_bytes())
    past = time.time() - 100
    os.utime(older, (past, past))
    (tmp_path / "ignored.weights.h5").write_bytes(b"")
    assert keras_deconvnet.load(tmp_path).output_shape[-1] == 3


def test_default_is_saved_models(saved, tmp_path, monkeypatch):
    _, path = saved
    (tmp_path / "saved_models").mkdir()
    (tmp_path / "saved_models" / "m.keras").write_bytes(path.read_bytes())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERAS_DECONVNET_MODELS", raising=False)
    assert keras_deconvnet.load().output_shape[-1] == 3


def test_missing_path_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing_here.keras"):
        keras_deconvnet.load(tmp_path / "nothing_here.keras")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="No saved model"):
        keras_deconvnet.load(empty)


def test_unreadable_file_names_it(tmp_path):
    bad = tmp_path / "corrupt.keras"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match="corrupt.keras"):
        keras_deconvnet.load(bad)


def test_saved_model_directory_is_explained(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ValueError, match="SavedModel"):
        keras_deconvnet.load(tmp_path)


def test_load_without_path_opens_the_recorded_model(saved, tmp_path,
                                                    monkeypatch):
    from keras_deconvnet.saving import record_latest

    _, path = saved
    models = tmp_path / "saved_models"
    monkeypatch.setenv("KERAS_DECONVNET_MODELS", str(models))
    recorded = models / "run-a" / "deconvnet.keras"
    recorded.parent.mkdir(parents=True)
    recorded.write_bytes(path.read_bytes())
    record_latest(recorded, "training")
    assert "run-a" in (models / "latest.json").read_text()
    # Newer files (an FCN, a stage-1 model, a dying run's checkpoint)
    # do not change what load() opens.
    newer = models / "fcn" / "fcn8s.keras"
    newer.parent.mkdir()
    keras_deconvnet.FCN8s(num_classes=5, width=SMALL_WIDTH).save(newer)
    (models / "run-b" / "checkpoint").mkdir(parents=True)
    keras_deconvnet.DeconvNet(num_classes=7, width=SMALL_WIDTH).save(
        models / "run-b" / "checkpoint" / "model.keras")
    assert keras_deconvnet.load().output_shape[-1] == 3
    assert keras_deconvnet.load(models).output_shape[-1] == 3
    # The pointer is relative: the folder can move.
    moved = tmp_path / "moved"
    models.rename(moved)
    monkeypatch.setenv("KERAS_DECONVNET_MODELS", str(moved))
    assert keras_deconvnet.load().output_shape[-1] == 3
    recorded = moved / "run-a" / "deconvnet.keras"
    recorded.unlink()
    with pytest.raises(FileNotFoundError, match="no longer exists"):
        keras_deconvnet.load()


def test_preset_options_need_a_preset_name(saved):
    _, path = saved
    with pytest.raises(ValueError, match="options of preset names"):
        keras_deconvnet.load(path, caffemodel="x.caffemodel")


def test_keras_load_model_needs_the_models_import(saved):
    # In a fresh interpreter: the lazy package registers nothing until
    # `keras_deconvnet.models` is imported (docs/presets.md says so).
    import subprocess
    import sys

    _, path = saved
    code = (
        "import sys, keras, keras_deconvnet\n"
        "try:\n"
        "    keras.saving.load_model(sys.argv[1])\n"
        "    print('loaded without import')\n"
        "except TypeError as error:\n"
        "    print('SegmentationModel' in str(error))\n"
        "import keras_deconvnet.models\n"
        "model = keras.saving.load_model(sys.argv[1])\n"
        "print(type(model).__name__, model.output_shape)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-3:] == [
        "True", "SegmentationModel (None, 224, 224, 3)", ""]
