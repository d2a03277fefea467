"""Exports a saved DeconvNet as a TFLite / LiteRT model (builtin ops only).

A thin wrapper over `keras-deconvnet export-tflite` (the same options):

    python serving/export_tflite.py --model saved_models/ \
        --out deconvnet_int8.tflite --quantize int8
"""

import sys

from keras_deconvnet.commands.export_tflite import main

if __name__ == "__main__":
    sys.exit(main())
