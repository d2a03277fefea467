"""`convert-caffe`: the authors' Caffe DeconvNet or FCN-8s -> `.keras`."""

import os
import time

from keras_deconvnet.commands import command_parser


EXAMPLES = """
keras-deconvnet convert-caffe --prototxt DeconvNet_inference_deploy.prototxt --caffemodel DeconvNet_trainval_inference.caffemodel --out saved_models/deconvnet_voc.keras
keras-deconvnet convert-caffe --arch fcn8s --prototxt fcn8s-deploy.prototxt --caffemodel fcn8s-heavy-pascal.caffemodel --out saved_models/fcn8s_voc.keras
"""


def build_parser():
    parser = command_parser(
        (
            "Reads a .caffemodel (V1 or new layout) and its deploy "
            ".prototxt without Caffe, copies every layer into the Keras "
            "network (DeconvNet, or FCN-8s with the Caffe geometry) and "
            "saves it. Every Caffe layer must map to a Keras layer by "
            "name, shape and settings; any mismatch stops with an error "
            "naming the layer."
        ),
        EXAMPLES,
    )
    parser.add_argument("--prototxt", required=True,
                        help="the deploy .prototxt of the model")
    parser.add_argument("--caffemodel", required=True,
                        help="the trained .caffemodel weights")
    parser.add_argument("--arch", choices=("deconvnet", "fcn8s"),
                        default="deconvnet", help="network (default: %(default)s)")
    parser.add_argument("--out", required=True,
                        help="output .keras file")
    parser.add_argument(
        "--input-size", type=int, default=None,
        help="square input size (DeconvNet default: the prototxt's, 224; "
             "FCN-8s default: any size)",
    )
    return parser


def run(args):
    if not args.out.endswith(".keras"):
        raise SystemExit(
            f"--out must name a .keras file. Received: --out {args.out}"
        )
    from keras_deconvnet.caffe import convert_caffe_model

    input_shape = None
    if args.input_size is not None:
        input_shape = (args.input_size, args.input_size, 3)
    started = time.perf_counter()
    try:
        model = convert_caffe_model(
            args.caffemodel, args.prototxt, architecture=args.arch,
            input_shape=input_shape, progress=True,
        )
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"convert-caffe: {error}") from None
    converted = time.perf_counter() - started
    directory = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(directory, exist_ok=True)
    from keras_deconvnet.presets.download import sha256
    from keras_deconvnet.saving import save_and_record

    caffe = {"architecture": args.arch}
    for key in ("caffemodel", "prototxt"):
        path = getattr(args, key)
        caffe[key] = os.path.basename(path)
        caffe[f"{key}_sha256"] = sha256(path)
    # FCN-8s is a partner model: only a DeconvNet becomes load()'s default.
    model = save_and_record(model, args.out, "conversion",
                            record=args.arch == "deconvnet",
                            source="caffe", caffe=caffe)
    print(
        f"Converted '{args.caffemodel}' into {model.name} "
        f"({model.count_params():,} parameters, output "
        f"{model.output_shape}) in {converted:.1f} s; saved to "
        f"'{args.out}' in {time.perf_counter() - started - converted:.1f} s."
    )
    print(f"Load it with keras_deconvnet.load('{args.out}')"
          + (" or keras_deconvnet.load()." if args.arch == "deconvnet" else "."))
    return 0


def main(argv=None):
    return run(build_parser().parse_args(argv))
