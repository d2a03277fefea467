"""`export-tflite`: a saved DeconvNet -> TFLite / LiteRT (builtin ops only).

The model takes float32 `[1, S, S, 3]` RGB 0-255 and returns float32
`[1, S, S, C]` scores in every mode. The export fails, naming the op, if
the converted model needs a Flex (TensorFlow) or custom op.
"""

import os

from keras_deconvnet.commands import command_parser

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8")

EXAMPLES = """
keras-deconvnet export-tflite --model saved_models/ --out deconvnet.tflite
keras-deconvnet export-tflite --model saved_models/ --out deconvnet_int8.tflite --quantize int8 --calibration-dir images/
python serving/export_tflite.py --model saved_models/ --out deconvnet_fp16.tflite --quantize float16
"""


def build_parser():
    parser = command_parser(
        "Export a Keras DeconvNet (.keras) to TFLite/LiteRT with builtin "
        "ops only: float32 [1, S, S, 3] RGB 0-255 in, float32 "
        "[1, S, S, C] scores out, whatever the quantization.",
        EXAMPLES,
    )
    parser.add_argument(
        "--model",
        required=True,
        help="the .keras model file (or a folder: its newest model file)",
    )
    parser.add_argument("--out", required=True, help="the .tflite file to write")
    parser.add_argument(
        "--quantize",
        choices=QUANTIZE_MODES,
        default="none",
        help=(
            "none: float32; float16: float16 weights; dynamic: int8 weights; "
            "int8: int8 weights and activations, calibrated (default none)"
        ),
    )
    parser.add_argument(
        "--calibration-dir",
        default=None,
        help=(
            "int8 only: a folder of images to calibrate on (default: "
            "images of the built-in synthetic dataset)"
        ),
    )
    parser.add_argument(
        "--num-calibration-images",
        type=int,
        default=32,
        help="int8 only: how many images calibrate (default 32)",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    import keras_deconvnet
    from keras_deconvnet.export import export_tflite
    from keras_deconvnet.export import tflite_operators

    model = keras_deconvnet.load(args.model)
    path = export_tflite(
        model,
        args.out,
        quantize=args.quantize,
        calibration_dir=args.calibration_dir,
        num_calibration_images=args.num_calibration_images,
    )
    with open(path, "rb") as file:
        operators = tflite_operators(file.read())
    print(
        f"Exported {model.name} to TFLite ({args.quantize}): "
        f"{os.path.abspath(path)}, {os.path.getsize(path) / 1e6:.2f} MB"
    )
    print(f"Builtin ops only: {', '.join(operators)}")
    return 0
