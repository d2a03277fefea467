"""Exports a saved DeconvNet for TensorFlow Serving.

A thin wrapper over `keras-deconvnet export` (the same options):

    python serving/export.py --model saved_models/ --out exported/deconvnet
"""

import sys

from keras_deconvnet.commands.export import main

if __name__ == "__main__":
    sys.exit(main())
