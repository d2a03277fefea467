"""Command line: `python -m keras_deconvnet COMMAND ...`.

Each module in `keras_deconvnet.commands` listed in `COMMANDS` provides
`add_parser(subparsers)` and `run(args)`.
"""

import argparse
import importlib
import os
import sys

# TensorFlow start-up chatter hides the command's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Command name -> module under keras_deconvnet.commands.
COMMANDS = {
    "segment": "segment",
    "demo": "demo",
    "convert-caffe": "convert_caffe",
    "make-synthetic": "make_synthetic",
}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m keras_deconvnet",
        description="DeconvNet semantic segmentation for Keras.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(
            f"keras_deconvnet.commands.{module_name}"
        )
        module.add_parser(subparsers, name)
        modules[name] = module
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return modules[args.command].run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
