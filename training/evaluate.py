"""Evaluates a saved DeconvNet: `python training/evaluate.py --help`.

A thin wrapper over the `evaluate` command,
`keras_deconvnet/commands/evaluate.py` (`keras-deconvnet evaluate`, the
same options).
"""

import sys

from keras_deconvnet.commands.evaluate import build_parser  # noqa: F401
from keras_deconvnet.commands.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
