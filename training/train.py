"""Trains a DeconvNet: `python training/train.py --help`.

A thin wrapper over `keras_deconvnet/commands/train.py` (`build_parser`,
`main`), which it loads by path: importing the `keras_deconvnet` package
imports Keras and TensorFlow, seconds that `--help` need not wait.
"""

import importlib.util
import os
import sys

COMMAND = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "keras_deconvnet", "commands", "train.py")


def _load_command():
    spec = importlib.util.spec_from_file_location("train_command", COMMAND)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_command = _load_command()
build_parser = _command.build_parser
parse_args = _command.parse_args
main = _command.main

if __name__ == "__main__":
    sys.exit(main())
