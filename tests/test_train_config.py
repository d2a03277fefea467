"""training/train.py --config: recipe files as parser defaults."""

import glob
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from keras_deconvnet.commands.config_file import read_config_file

pytest.importorskip("yaml")  # the shipped recipes are YAML

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "training", "configs", "*")))


def load_train_script():
    spec = importlib.util.spec_from_file_location(
        "script_train_config", os.path.join(ROOT, "training", "train.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_script = load_train_script()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_shipped_configs_parse_into_their_values():
    names = {os.path.basename(path) for path in CONFIGS}
    assert {"camvid_deconvnet.yaml", "camvid_fcn8s.yaml", "voc_stage1.yaml",
            "voc_stage2.yaml"} <= names
    for path in CONFIGS:
        args = train_script.parse_args(["--config", path])
        values = read_config_file(path)
        assert values, path
        for key, value in values.items():
            assert getattr(args, key) == value, (path, key)
    camvid = train_script.parse_args(
        ["--config", os.path.join(ROOT, "training", "configs",
                                  "camvid_deconvnet.yaml")])
    assert (camvid.crops, camvid.scale_range, camvid.num_classes,
            camvid.ignore_label, camvid.class_weighting, camvid.tile_scale,
            camvid.tile_overlap) == (
        "random", [0.5, 1.0], 11, 11, True, [0.5, 0.75], 0.5)
    stage1 = train_script.parse_args(
        ["--config", os.path.join(ROOT, "training", "configs",
                                  "voc_stage1.yaml")])
    assert (stage1.lr, stage1.momentum, stage1.weight_decay,
            stage1.batch_size, stage1.step_size,
            stage1.epochs * stage1.steps_per_epoch) == (
        0.01, 0.9, 0.0005, 64, 9000, 20000)


def test_command_line_overrides_the_file(tmp_path):
    path = write(tmp_path, "recipe.yaml",
                 "batch_size: 8  # a comment\nscale_range: [0.5, 1.0]\n"
                 "class_weighting: true\ndata_dir: some/folder\n")
    args = train_script.parse_args(["--config", path])
    assert (args.batch_size, args.scale_range, args.class_weighting,
            args.data_dir) == (8, [0.5, 1.0], True, "some/folder")
    args = train_script.parse_args([
        "--batch-size", "4", "--config", path, "--scale-range", "0.75",
        "1.5", "--no-class-weighting"])
    assert (args.batch_size, args.scale_range, args.class_weighting) == (
        4, [0.75, 1.5], False)
    path = write(tmp_path, "soft.yaml",
                 "class_weighting: true\nclass_weight_power: 0.5\n")
    args = train_script.parse_args(["--config", path])
    assert (args.class_weighting, args.class_weight_power) == (True, 0.5)
    args = train_script.parse_args(["--config", path,
                                    "--class-weight-power", "1"])
    assert args.class_weight_power == 1.0


def test_json_config(tmp_path):
    path = write(tmp_path, "recipe.json", json.dumps(
        {"crops": "random", "lr": 0.001, "optimizer": "adam"}))
    args = train_script.parse_args(["--config", path])
    assert (args.crops, args.lr, args.optimizer) == ("random", 0.001, "adam")
    # A flag of one or more values takes a list, or one value as the
    # command line does (`--tile-scale 0.75`).
    for value, expected in ((0.75, [0.75]), ([0.5, 1], [0.5, 1.0])):
        path = write(tmp_path, "tiles.json", json.dumps({"tile_scale": value}))
        assert train_script.parse_args(
            ["--config", path]).tile_scale == expected


@pytest.mark.parametrize("text, expected", [
    ("bacth_size: 8\n", "unknown key `bacth_size`"),
    ("batch_size: eight\n", "`batch_size`"),
    ("batch_size: 0\n", "must be >= 1"),
    ("batch_size: 8.5\n", "`batch_size`"),
    ("crops: boxes\n", "must be one of objects, proposals, whole, random"),
    ("scale_range: 0.5\n", "must be a list of 2 values"),
    ("scale_range: [0.5, big]\n", "`scale_range`"),
    ("class_weighting: 1\n", "must be true or false"),
    ("lr: [0.1]\n", "must be a single number"),
    ("tile_scale: []\n", "must be a value or a non-empty list"),
    ("tile_scale: [0.5, [1]]\n", "must be a single number"),
    ("config: other.yaml\n", "unknown key `config`"),
    ("batch_size: [8\n", "Could not read the config file"),
])
def test_bad_values_name_the_key_and_the_file(tmp_path, capsys, text,
                                              expected):
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(SystemExit) as error:
        train_script.parse_args(["--config", path])
    assert error.value.code == 2
    message = capsys.readouterr().err
    assert expected in message and path in message, message


def test_missing_and_non_mapping_files(tmp_path, capsys):
    for path in (str(tmp_path / "nowhere.yaml"),
                 write(tmp_path, "list.json", "[1, 2]")):
        with pytest.raises(SystemExit):
            train_script.parse_args(["--config", path])
        assert path in capsys.readouterr().err


def test_help_lists_the_new_flags_and_scale_default():
    from keras_deconvnet.data.augmentation import DEFAULT_SCALE_RANGE

    text = train_script.build_parser().format_help()
    for option in ("--config", "--scale-range", "--optimizer", "poly",
                   "random"):
        assert option in text, option
    # The help text quotes the library's single default.
    assert "default {} {}".format(*DEFAULT_SCALE_RANGE) in text
    args = train_script.parse_args([])
    assert (args.optimizer, args.schedule, args.scale_range) == (
        "sgd", "plateau", None)


def test_help_imports_no_tensorflow():
    code = ("import runpy, sys\n"
            "module = runpy.run_path(sys.argv[1])\n"
            "text = module['build_parser']().format_help()\n"
            "assert '--config' in text and 'Examples' in text\n"
            "print(sorted(m for m in ('tensorflow', 'keras') "
            "if m in sys.modules))")
    output = subprocess.run(
        [sys.executable, "-c", code, os.path.join(ROOT, "training",
                                                  "train.py")],
        capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
