"""`export`: a saved DeconvNet -> TF-Serving SavedModel.

Writes the TF-Serving layout `<out>/<version>/` (version: the next free
integer unless given) with the signatures `serving_default` and
`predict_crops` (batched crops) and `segment` (one image and its proposal
boxes, aggregated in the graph).
"""

import os

from keras_deconvnet.commands import command_parser

EXAMPLES = """
keras-deconvnet export --model saved_models/ --out exported/deconvnet
keras-deconvnet export --model saved_models/demo-stage2/deconvnet.keras --out exported/deconvnet --version 2
python serving/export.py --model saved_models/ --out exported/deconvnet
"""


def build_parser():
    parser = command_parser(
        "Export a Keras DeconvNet (.keras) as a TF-Serving SavedModel with "
        "the signatures serving_default, predict_crops and segment.",
        EXAMPLES,
    )
    parser.add_argument(
        "--model",
        required=True,
        help="the .keras model file (or a folder: its newest model file)",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="the model's base folder, e.g. exported/deconvnet",
    )
    parser.add_argument(
        "--version",
        type=int,
        default=None,
        help="version number (default: the next free integer)",
    )
    parser.add_argument(
        "--max-image-size",
        type=int,
        default=4096,
        help="`segment` rejects images with a larger side (default 4096)",
    )
    parser.add_argument(
        "--max-boxes",
        type=int,
        default=200,
        help="`segment` rejects requests with more boxes (default 200)",
    )
    parser.add_argument(
        "--crop-batch-size",
        type=int,
        default=16,
        help="crops per forward pass inside `segment` (default 16)",
    )
    parser.add_argument(
        "--aggregation",
        choices=("max", "sum", "mean"),
        default="max",
        help="per-pixel combination of boxes in `segment`: max (default) "
        "or sum of raw scores, or mean of probabilities (tiled inference)",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    import keras_deconvnet
    from keras_deconvnet.export import export_saved_model

    model = keras_deconvnet.load(args.model)
    path = export_saved_model(
        model,
        args.out,
        version=args.version,
        max_image_size=args.max_image_size,
        crop_batch_size=args.crop_batch_size,
        aggregation=args.aggregation,
        max_boxes=args.max_boxes,
    )
    print(f"Exported {model.name} for TF-Serving: {os.path.abspath(path)}")
    print(f"Inspect it: saved_model_cli show --dir {path} --all")
    return 0
