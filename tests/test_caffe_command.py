"""`python -m keras_deconvnet convert-caffe` end to end."""

import numpy as np
import pytest

import keras_deconvnet
from keras_deconvnet.__main__ import main
from keras_deconvnet.caffe.caffemodel_writer import prototxt_text
from keras_deconvnet.caffe.network_specs import fcn8s_layer_specs
from tests.test_caffe_reader import write_random


@pytest.fixture
def fcn8s_files(tmp_path):
    specs = fcn8s_layer_specs(num_classes=4, width=0.0625)
    caffemodel = tmp_path / "fcn8s.caffemodel"
    write_random(caffemodel, specs, "layer")
    prototxt = tmp_path / "deploy.prototxt"
    prototxt.write_text(prototxt_text(specs, "layer"))
    return caffemodel, prototxt


def test_converts_saves_and_loads(tmp_path, fcn8s_files, capsys, monkeypatch):
    caffemodel, prototxt = fcn8s_files
    monkeypatch.setenv("KERAS_DECONVNET_MODELS", str(tmp_path / "models"))
    out = tmp_path / "models" / "fcn8s.keras"
    status = main([
        "convert-caffe", "--prototxt", str(prototxt), "--caffemodel",
        str(caffemodel), "--arch", "fcn8s", "--out", str(out),
    ])
    assert status == 0
    assert "fcn8s_caffe" in capsys.readouterr().out
    model = keras_deconvnet.load(out)
    assert model.get_layer("conv1_1").kernel.shape == (3, 3, 3, 4)
    image = np.full((1, 30, 41, 3), 128, "float32")
    assert model.predict(image, verbose=0).shape == (1, 30, 41, 4)
    info = keras_deconvnet.metadata(model)
    assert info["source"] == "caffe"
    assert info["caffe"]["caffemodel"] == "fcn8s.caffemodel"
    assert len(info["caffe"]["caffemodel_sha256"]) == 64
    # An FCN-8s is an EDeconvNet partner, never load()'s default.
    assert not (tmp_path / "models" / "latest.json").exists()


def test_mismatch_exits_with_the_layer_name(tmp_path, fcn8s_files):
    caffemodel, prototxt = fcn8s_files
    with pytest.raises(SystemExit, match="convert-caffe: No Caffe layer 'bn1_1'.*more"):
        main([
            "convert-caffe", "--prototxt", str(prototxt), "--caffemodel",
            str(caffemodel), "--arch", "deconvnet",
            "--out", str(tmp_path / "x.keras"),
        ])
    with pytest.raises(SystemExit, match=".keras"):
        main([
            "convert-caffe", "--prototxt", str(prototxt), "--caffemodel",
            str(caffemodel), "--out", str(tmp_path / "x.h5"),
        ])
