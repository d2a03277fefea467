"""`keras-deconvnet export` and `export-tflite` (and their serving/ scripts)
from a saved model file to files on disk."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")

from keras_deconvnet.__main__ import main  # noqa: E402
from tests.test_export_saved_model import tiny_model  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    tiny_model().save(path)
    return str(path)


@pytest.mark.slow
def test_export_writes_a_versioned_saved_model(model_file, tmp_path, capsys):
    base = tmp_path / "deconvnet"
    assert main(["export", "--model", model_file, "--out", str(base),
                 "--version", "3"]) == 0
    assert os.path.isfile(base / "3" / "saved_model.pb")
    assert "saved_model_cli show --dir" in capsys.readouterr().out


@pytest.mark.slow
def test_export_tflite_writes_builtin_ops_only(model_file, tmp_path, capsys):
    path = tmp_path / "tiny.tflite"
    assert main(["export-tflite", "--model", model_file, "--out", str(path),
                 "--quantize", "float16"]) == 0
    assert path.stat().st_size > 0
    out = capsys.readouterr().out
    assert "Builtin ops only: " in out and "CONV_2D" in out


def test_serving_scripts_wrap_the_commands():
    for script, command in (("export.py", "export"),
                            ("export_tflite.py", "export-tflite")):
        shown = subprocess.run(
            [sys.executable, os.path.join(ROOT, "serving", script), "--help"],
            capture_output=True, text=True, check=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": ROOT},
        ).stdout
        assert f"keras-deconvnet {command} --model" in shown


def test_bad_quantize_mode_is_named(capsys):
    with pytest.raises(SystemExit):
        main(["export-tflite", "--model", "m.keras", "--out", "m.tflite",
              "--quantize", "int4"])
    assert "invalid choice: 'int4'" in capsys.readouterr().err
