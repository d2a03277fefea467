"""The `keras-deconvnet` dispatcher: every subcommand's --help, quickly."""

import json
import subprocess
import sys

import pytest

from keras_deconvnet.__main__ import COMMANDS
from keras_deconvnet.__main__ import main

# One fresh interpreter asks every command for --help and reports which
# heavy frameworks got imported on the way (none should be).
HELP_ALL = """
import contextlib, io, json, sys
from keras_deconvnet.__main__ import COMMANDS, main
helps = {}
for name in ["", *COMMANDS]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main([name, "--help"] if name else ["--help"])
        except SystemExit:
            pass
    helps[name] = out.getvalue()
heavy = sorted({m.split(".")[0] for m in sys.modules}
               & {"tensorflow", "keras", "jax", "torch"})
print(json.dumps({"helps": helps, "heavy": heavy}))
"""


@pytest.fixture(scope="module")
def help_texts():
    result = subprocess.run(
        [sys.executable, "-c", HELP_ALL], capture_output=True, text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_help_imports_no_framework(help_texts):
    assert help_texts["heavy"] == []


def test_top_level_help_lists_every_command(help_texts):
    text = help_texts["helps"][""]
    assert text.startswith("usage: keras-deconvnet")
    for name in COMMANDS:
        assert f"\n  {name} " in text


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_help_has_usage_and_examples(help_texts, name):
    text = help_texts["helps"][name]
    assert text.startswith(f"usage: keras-deconvnet {name}")
    assert "example" in text.lower()


def test_unknown_command_names_the_choices(capsys):
    assert main(["segmnet"]) == 2
    error = capsys.readouterr().err
    assert "unknown command 'segmnet'" in error
    assert "segment" in error


def test_version(capsys):
    import keras_deconvnet

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.split() == [
        "keras-deconvnet", keras_deconvnet.__version__,
    ]


def test_export_tflite_offers_the_exporters_modes():
    from keras_deconvnet.commands import export_tflite
    from keras_deconvnet.export import QUANTIZE_MODES

    assert export_tflite.QUANTIZE_MODES == QUANTIZE_MODES
