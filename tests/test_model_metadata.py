"""Model metadata: defaults, set/get, save/load, preset folders, datasets."""

import json

import numpy as np
import pytest

import keras

import keras_deconvnet
from keras_deconvnet import palette
from keras_deconvnet.data import load_source
from keras_deconvnet.data.class_names import dataset_class_names
from keras_deconvnet.data.class_names import parse_class_names
from keras_deconvnet.model_metadata import training_metadata
from keras_deconvnet.models import fold_batch_norm
from tests.conftest import SMALL_WIDTH

NAMES = ["sky", "road", "car"]


@pytest.fixture(scope="module")
def named_model():
    model = keras_deconvnet.DeconvNet(num_classes=3, width=SMALL_WIDTH)
    return keras_deconvnet.set_metadata(
        model, class_names=NAMES, ignore_label=255, dataset="toy",
        source="training", training={"epochs": 1, "width": SMALL_WIDTH},
    )


@pytest.mark.parametrize("num_classes, names, ignore", [
    (21, palette.VOC_CLASSES, 255),
    (11, palette.CAMVID_CLASSES, 11),
    (3, ("class_0", "class_1", "class_2"), None),
])
def test_defaults_follow_the_output_shape(num_classes, names, ignore):
    inputs = keras.Input((32, 32, 3))
    plain = keras.Model(inputs, keras.layers.Conv2D(num_classes, 1)(inputs))
    info = keras_deconvnet.metadata(plain)
    assert tuple(info["class_names"]) == names
    assert info["ignore_label"] == ignore
    assert info["num_classes"] == num_classes
    assert info["input_size"] == [32, 32]
    assert info["source"] == "unknown"
    assert len(info["palette"]) == num_classes


def test_builders_carry_metadata_and_it_survives_save_and_load(
        named_model, tmp_path):
    assert isinstance(named_model, keras_deconvnet.SegmentationModel)
    path = tmp_path / "named.keras"
    named_model.save(path)
    loaded = keras_deconvnet.load(path)
    info = keras_deconvnet.metadata(loaded)
    assert info["class_names"] == NAMES
    assert info["ignore_label"] == 255
    assert (info["dataset"], info["source"]) == ("toy", "training")
    assert info["training"] == {"epochs": 1, "width": SMALL_WIDTH}
    assert info["input_size"] == [224, 224]


def test_preset_folder_round_trip(named_model, tmp_path):
    directory = tmp_path / "shared"
    assert keras_deconvnet.save_preset(named_model, directory) == str(directory)
    assert sorted(p.name for p in directory.iterdir()) == [
        "config.json", "metadata.json", "model.weights.h5"]
    readable = json.loads((directory / "metadata.json").read_text())
    assert readable["class_names"] == NAMES
    assert readable["parameter_count"] == named_model.count_params()
    loaded = keras_deconvnet.load(directory)
    assert keras_deconvnet.metadata(loaded)["class_names"] == NAMES
    x = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3))
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), named_model.predict(x, verbose=0))
    # A second save replaces the folder; a foreign folder is refused.
    keras_deconvnet.save_preset(named_model, directory)
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="not a model folder"):
        keras_deconvnet.save_preset(named_model, other)


def test_plain_models_are_wrapped_and_share_weights(tmp_path):
    inputs = keras.Input((32, 32, 3))
    plain = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="c")(inputs))
    named = keras_deconvnet.set_metadata(plain, class_names=["a", "b"])
    assert isinstance(named, keras_deconvnet.SegmentationModel)
    assert named.get_layer("c") is plain.get_layer("c")
    assert keras_deconvnet.metadata(named)["class_names"] == ["a", "b"]
    # In place for a SegmentationModel; None removes a field.
    assert keras_deconvnet.set_metadata(named, class_names=None) is named
    assert keras_deconvnet.metadata(named)["class_names"] == [
        "class_0", "class_1"]


@pytest.mark.parametrize("fields, message", [
    ({"class_names": ["a", "b"]}, "3 non-empty strings"),
    ({"class_names": "abc"}, "3 non-empty strings"),
    ({"ignore_label": 1}, "outside"),
    ({"palette": [[0, 0, 0]]}, "palette"),
    ({"source": "internet"}, "source"),
    ({"colour": "red"}, "Unknown metadata fields"),
    ({"tile_scale": 0}, "tile_scale"),
    ({"tile_scale": [1.0, "big"]}, "tile_scale"),
    ({"tile_overlap": 1.0}, "tile_overlap"),
])
def test_bad_fields_are_named(named_model, fields, message):
    with pytest.raises(ValueError, match=message):
        keras_deconvnet.set_metadata(named_model, **fields)


def test_tile_settings_survive_save_and_load(named_model, tmp_path):
    model = keras_deconvnet.set_metadata(
        named_model, tile_scale=[0.75, 1.0], tile_overlap=0.25)
    model.save(tmp_path / "tiles.keras")
    found = keras_deconvnet.metadata(
        keras_deconvnet.load(tmp_path / "tiles.keras"))
    assert found["tile_scale"] == [0.75, 1.0]
    assert found["tile_overlap"] == 0.25
    keras_deconvnet.set_metadata(model, tile_scale=None, tile_overlap=None)
    assert "tile_scale" not in keras_deconvnet.metadata(model)


def test_batch_norm_folding_keeps_the_metadata(named_model):
    folded = fold_batch_norm(named_model)
    assert keras_deconvnet.metadata(folded)["class_names"] == NAMES


def test_class_names_for_prefers_stored_names(named_model):
    class Source:
        class_names = ("x", "y", "z")

    assert keras_deconvnet.class_names_for(named_model, Source) == tuple(NAMES)
    plain = keras_deconvnet.DeconvNet(num_classes=3, width=SMALL_WIDTH)
    assert keras_deconvnet.class_names_for(plain, Source) == ("x", "y", "z")
    assert keras_deconvnet.class_names_for(plain)[0] == "class_0"


def _folder_dataset(root, name="data"):
    from PIL import Image

    for split in ("train", "trainannot"):
        (root / name / split).mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(
        root / name / "train" / "a.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(
        root / name / "trainannot" / "a.png")
    return root / name


def test_folder_class_names_from_classes_txt_flag_and_camvid(tmp_path):
    data = _folder_dataset(tmp_path)
    generic = load_source("folder", str(data), num_classes=11)
    assert generic.class_names[0] == "class_0"
    camvid = load_source("folder", str(data), num_classes=11, ignore_label=11)
    assert camvid.class_names == palette.CAMVID_CLASSES
    by_name = _folder_dataset(tmp_path, "CamVid")
    assert load_source("folder", str(by_name), num_classes=11).class_names[
        6] == "sign/symbol"
    (data / "classes.txt").write_text("# my classes\nsky\n\nroad\ncar\n")
    assert load_source("folder", str(data), num_classes=3).class_names == (
        "sky", "road", "car")
    flagged = load_source("folder", str(data), num_classes=2,
                          class_names="left, right")
    assert flagged.class_names == ("left", "right")
    with pytest.raises(ValueError, match="gives 3 class names"):
        load_source("folder", str(data), num_classes=4)
    with pytest.raises(ValueError, match="non-empty"):
        parse_class_names("a,,b")


def test_training_metadata_names_and_config(tmp_path):
    fields = training_metadata({
        "dataset": "voc", "num_classes": 21, "ignore_label": 255,
        "data_dir": str(tmp_path), "width": 1.0, "class_weights": None,
    })
    assert fields["class_names"][15] == "person"
    assert fields["training"]["width"] == 1.0
    assert fields["source"] == "training"
    assert "tile_scale" not in fields  # unset: Segmenter's defaults apply
    fields = training_metadata({"dataset": "synthetic", "num_classes": 21,
                                "tile_scale": [0.5, 0.75],
                                "tile_overlap": 0.5})
    assert (fields["tile_scale"], fields["tile_overlap"]) == ([0.5, 0.75], 0.5)
    # A bad explicit list cannot lose a finished run: a warning instead.
    with pytest.warns(UserWarning, match="without class names"):
        fields = training_metadata({"dataset": "folder", "num_classes": 2,
                                    "class_names": "a,b,c"})
    assert fields["class_names"] is None
    assert dataset_class_names("synthetic", 3)[0] == "class_0"


def test_scripts_take_class_names():
    from tests.test_train_script import load_script

    train_script = load_script("train")
    assert "--class-names" in train_script.build_parser().format_help()
    with pytest.raises(SystemExit, match="gives 2 names for --num-classes 3"):
        train_script.main(["--dataset", "folder", "--num-classes", "3",
                           "--class-names", "a,b"])
    evaluate_script = load_script("evaluate")
    args = evaluate_script.build_parser().parse_args(["--class-names", "a,b"])
    assert args.class_names == "a,b"
