"""load_source: names, arguments, and the self-generating synthetic source."""

import os

import pytest

from keras_deconvnet.data import load_source
from keras_deconvnet.data import synthetic
from keras_deconvnet.data.synthetic import write_synthetic_voc


def test_unknown_name_and_missing_arguments(tmp_path):
    with pytest.raises(ValueError, match="coco"):
        load_source("coco", str(tmp_path))
    with pytest.raises(ValueError, match="label_dir"):
        load_source("folder", None, num_classes=3, image_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_source("voc", str(tmp_path / "nowhere"))


def test_synthetic_reuses_an_existing_folder(tmp_path):
    root = write_synthetic_voc(tmp_path / "s", 2, 1, image_size=(40, 40))
    source = load_source("synthetic", root, "val")
    assert len(source) == 1 and source.name == "synthetic/val"
    assert source.class_names[15] == "person" and source.ignore_label == 255
    as_voc = load_source("voc", root, "train", skip_invalid=True)
    assert len(as_voc) == 2


def test_synthetic_generates_when_missing_or_empty(tmp_path, monkeypatch):
    calls = []

    def small_writer(directory):
        calls.append(directory)
        return write_synthetic_voc(directory, 3, 1, image_size=(48, 48))

    monkeypatch.setattr(synthetic, "write_synthetic_voc", small_writer)
    root = str(tmp_path / "fresh")
    source = load_source("synthetic", root, "train")
    assert calls == [root] and len(source) == 3
    assert len(os.listdir(os.path.join(root, "JPEGImages"))) == 4
    load_source("synthetic", root, "val")  # exists now: not rewritten
    os.makedirs(tmp_path / "empty")
    load_source("synthetic", str(tmp_path / "empty"), "val")
    assert len(calls) == 2


def test_readers_need_no_tensorflow_and_package_does_not_import_data(
    tmp_path,
):
    import subprocess
    import sys

    pytest.importorskip("jax")  # KERAS_BACKEND=jax keeps keras off TF.
    root = write_synthetic_voc(tmp_path / "s", 1, 0, image_size=(40, 40))
    code = (
        "import sys, keras_deconvnet\n"
        "assert 'keras_deconvnet.data' not in sys.modules\n"
        "from keras_deconvnet import data\n"
        f"data.load_source('voc', {str(root)!r}).validate(progress=False)\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
    )
    environment = dict(os.environ, KERAS_BACKEND="jax")
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
