"""keras_deconvnet.evaluation and training/evaluate.py."""

import importlib.util
import json
import os

import numpy as np
import pytest

import keras

from keras_deconvnet.evaluation import evaluate
from keras_deconvnet.metrics import ConfusionMatrix
from tests.conftest import SMALL_WIDTH

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(name):
    spec = importlib.util.spec_from_file_location(
        f"script_{name}", os.path.join(ROOT, "training", f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def colour_model():
    """Scores = the RGB values: the label is the dominant colour channel."""
    inputs = keras.Input((224, 224, 3))
    layer = keras.layers.Conv2D(3, 1, name="identity")
    outputs = layer(inputs)
    layer.set_weights([np.eye(3, dtype="float32")[None, None], np.zeros(3)])
    return keras.Model(inputs, outputs)


def two_colour_example(height=300, width=200, split=120):
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :split, 0] = 255
    image[:, split:, 1] = 255
    label = np.zeros((height, width), np.int32)
    label[:, split:] = 1
    label[:5] = 255  # ignored rows
    return image, label


def test_whole_mode_resizes_to_the_input_and_back():
    examples = [two_colour_example(), two_colour_example(180, 260, 60)]
    summary = evaluate(colour_model(), examples, 3, ignore_label=255,
                       batch_size=2, progress=False)
    assert summary["mode"] == "whole" and summary["input_size"] == 224
    assert summary["num_images"] == 2
    # Only the column at each colour edge can be wrong after two resizes.
    assert summary["pixel_accuracy"] > 0.99
    iou = summary["per_class_iou"]
    assert iou[0] > 0.98 and iou[1] > 0.98 and iou[2] is None
    expected_pixels = (300 - 5) * 200 + (180 - 5) * 260
    assert summary["num_pixels"] == expected_pixels


def test_class_count_mismatch_and_mode_are_checked():
    with pytest.raises(ValueError, match="scores 3 classes"):
        evaluate(colour_model(), [], 21)
    with pytest.raises(ValueError, match="mode"):
        evaluate(colour_model(), [], 3, mode="grid")


def test_proposals_mode_uses_the_segmenter(tmp_path, monkeypatch):
    pytest.importorskip("cv2")
    from keras_deconvnet.proposals.edges import EDGE_MODEL_ENV
    from keras_deconvnet.proposals.edges import edge_map_name

    monkeypatch.delenv(EDGE_MODEL_ENV, raising=False)
    summary = evaluate(colour_model(), [two_colour_example()], 3, 255,
                       mode="proposals", num_proposals=5, progress=False)
    assert summary["mode"] == "proposals"
    assert summary["pixel_accuracy"] > 0.9
    # The results say which edge map the proposals came from.
    assert summary["edge_map"] == "gradient"
    model_file = tmp_path / "model.yml.gz"
    model_file.write_bytes(b"")
    assert edge_map_name(model_file) == "structured:model.yml.gz"


def synthetic_data_and_model(tmp_path):
    """`(data_dir, model_path)`: 2 synthetic val images, a tiny DeconvNet."""
    from keras_deconvnet import DeconvNet
    from keras_deconvnet.data import write_synthetic_voc

    data_dir = str(tmp_path / "synthetic")
    write_synthetic_voc(data_dir, num_train=1, num_val=2,
                        image_size=(96, 128), seed=0)
    model_path = str(tmp_path / "model.keras")
    DeconvNet(num_classes=21, width=SMALL_WIDTH).save(model_path)
    return data_dir, model_path


def test_evaluate_script_prints_table_json_and_plot(tmp_path, capsys):
    data_dir, model_path = synthetic_data_and_model(tmp_path)
    plots, json_path = str(tmp_path / "plots"), str(tmp_path / "result.json")
    code = load_script("evaluate").main([
        "--model", model_path, "--dataset", "synthetic", "--data-dir",
        data_dir, "--split", "val", "--plots", plots, "--json", json_path,
        "--quiet",
    ])
    assert code == 0
    output = capsys.readouterr().out
    assert "mean IoU" in output and "aeroplane" in output
    assert "mode=whole" in output
    line = json.loads(output.strip().splitlines()[-1])
    with open(json_path) as file:
        saved = json.load(file)
    matrix = ConfusionMatrix(21, 255)
    matrix.matrix = np.array(saved["confusion_matrix"])
    assert line["miou"] == pytest.approx(matrix.mean_iou())
    assert line["pixel_accuracy"] == pytest.approx(matrix.pixel_accuracy())
    assert len(line["per_class_iou"]) == 21 and line["num_images"] == 2
    assert os.path.getsize(os.path.join(plots, "confusion_matrix.png")) > 1000


def test_evaluate_script_missing_model_is_a_clear_error(tmp_path, capsys):
    code = load_script("evaluate").main([
        "--model", str(tmp_path / "absent.keras"), "--dataset", "synthetic",
        "--data-dir", str(tmp_path / "synthetic"), "--quiet",
    ])
    assert code == 2
    assert "absent.keras" in capsys.readouterr().err


def test_tiles_mode_through_evaluate():
    summary = evaluate(colour_model(), [two_colour_example()], 3, 255,
                       mode="tiles", tile_scale=(0.75, 1.0), tile_overlap=0.25,
                       progress=False)
    assert summary["mode"] == "tiles" and summary["aggregation"] == "mean"
    assert summary["tile_scale"] == [0.75, 1.0]
    assert summary["tile_overlap"] == 0.25
    # The colour model labels each pixel by its colour: tiles at these
    # scales only blur the one column at the edge.
    assert summary["pixel_accuracy"] > 0.99


def test_evaluate_script_tiles_ensemble_and_per_class_plot(tmp_path, capsys):
    from keras_deconvnet import FCN8s

    data_dir, model_path = synthetic_data_and_model(tmp_path)
    fcn_path = str(tmp_path / "fcn.keras")
    FCN8s(num_classes=21, width=SMALL_WIDTH).save(fcn_path)
    plots, json_path = str(tmp_path / "plots"), str(tmp_path / "result.json")
    code = load_script("evaluate").main([
        "--model", model_path, "--dataset", "synthetic", "--data-dir",
        data_dir, "--split", "val", "--mode", "tiles", "--tile-scale",
        "0.75", "1.0", "--tile-overlap", "0.25", "--fcn", fcn_path,
        "--ensemble", "product", "--fcn-mode", "tiles", "--plots", plots,
        "--json", json_path, "--quiet",
    ])
    assert code == 0
    output = capsys.readouterr().out
    assert "mode=tiles" in output and "tile scale 0.75 1" in output
    assert "(tiles), ensemble=product" in output
    # Per-class IoU by class name.
    assert any(line.startswith("aeroplane") for line in output.splitlines())
    with open(json_path) as file:
        saved = json.load(file)
    assert saved["ensemble"] == "product" and saved["fcn"] == fcn_path
    assert saved["fcn_mode"] == "tiles"
    assert saved["tile_scale"] == [0.75, 1.0] and saved["num_images"] == 2
    assert saved["class_names"][1] == "aeroplane"
    for name in ("confusion_matrix.png", "per_class_iou.png"):
        assert os.path.getsize(os.path.join(plots, name)) > 1000


def test_folder_evaluation_takes_its_defaults_from_the_model(
    tmp_path, capsys
):
    """No --num-classes, --ignore-label or tile flags: the model's class
    count, then its metadata (ignore label, names, tile settings)."""
    from PIL import Image

    import keras_deconvnet

    for folder in ("val", "valannot"):
        os.makedirs(tmp_path / "data" / folder)
    image, label = two_colour_example(120, 160, 70)  # 255: ignored rows
    Image.fromarray(image).save(tmp_path / "data" / "val" / "a.png")
    Image.fromarray(label.astype(np.uint8)).save(
        tmp_path / "data" / "valannot" / "a.png")
    model = keras_deconvnet.set_metadata(
        colour_model(), ignore_label=255, class_names=["red", "green", "blue"],
        tile_scale=[0.5], tile_overlap=0.5)
    model.save(tmp_path / "colour.keras")
    code = load_script("evaluate").main([
        "--model", str(tmp_path / "colour.keras"), "--dataset", "folder",
        "--data-dir", str(tmp_path / "data"), "--mode", "tiles", "--quiet",
    ])
    assert code == 0
    output = capsys.readouterr().out
    line = json.loads(output.strip().splitlines()[-1])
    assert line["tile_scale"] == [0.5] and line["tile_overlap"] == 0.5
    assert line["class_names"] == ["red", "green", "blue"]
    assert line["num_pixels"] == (120 - 5) * 160
    assert line["per_class_iou"][2] is None and line["pixel_accuracy"] > 0.99


def test_optimize_and_precision_flags_reach_the_segmenter(tmp_path, capsys):
    from keras_deconvnet import DeconvNet
    from keras_deconvnet.commands.evaluate import build_parser
    from keras_deconvnet.commands.evaluate import segmenter_options
    from tests.layer_testing import make_informative

    options = segmenter_options(build_parser().parse_args(
        ["--optimize", "--precision", "bfloat16"]))
    assert options["optimize"] is True and options["precision"] == "bfloat16"
    defaults = segmenter_options(build_parser().parse_args([]))
    assert "optimize" not in defaults and "precision" not in defaults
    # End to end: the optimized network scores what the model scores.
    data_dir, model_path = synthetic_data_and_model(tmp_path)
    model = DeconvNet(num_classes=21, width=SMALL_WIDTH)
    make_informative(model, np.random.default_rng(0).uniform(
        0, 255, (2, 224, 224, 3)))
    model.save(model_path)
    results = []
    for flags in ([], ["--optimize"]):
        assert load_script("evaluate").main([
            "--model", model_path, "--dataset", "synthetic", "--data-dir",
            data_dir, "--split", "val", "--quiet", *flags]) == 0
        output = capsys.readouterr().out
        results.append(json.loads(output.strip().splitlines()[-1]))
    assert results[1]["miou"] == pytest.approx(results[0]["miou"], abs=1e-3)
    assert results[0]["miou"] > 0
