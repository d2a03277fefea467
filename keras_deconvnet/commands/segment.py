"""`segment`: label maps and overlays for image files (instance-wise)."""

import os
import sys

from keras_deconvnet.commands import add_network_speed_arguments
from keras_deconvnet.commands import command_parser


EXAMPLES = """
keras-deconvnet segment photo.jpg --out segmentations
keras-deconvnet segment images/*.jpg --model saved_models/ --draw-proposals
keras-deconvnet segment street.png --mode tiles --tile-scale 0.75 1.0 --model saved_models/camvid
keras-deconvnet segment photo.jpg --mode whole --model deconvnet.keras
keras-deconvnet segment photo.jpg --model deconvnet_voc --fcn fcn8s_voc --ensemble product --crf
"""


def build_parser():
    parser = command_parser(
        (
            "Segments each IMAGE with a saved DeconvNet as in the paper "
            "(EdgeBoxes proposals, crops, max/sum aggregation), or on "
            "overlapping tiles (--mode tiles) or the whole resized image; "
            "optionally with the FCN-8s ensemble and the dense CRF. Writes, "
            "under --out, "
            "NAME_labels.png (label map, PASCAL VOC palette), "
            "NAME_overlay.png (image blended with the labels, legend of the "
            "classes present) and with --draw-proposals NAME_proposals.png."
        ),
        EXAMPLES,
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument(
        "--model",
        default=None,
        help="DeconvNet .keras file, model folder or preset name (default: "
        "the model recorded in saved_models/latest.json, or under "
        "$KERAS_DECONVNET_MODELS)",
    )
    parser.add_argument("--fcn", default=None, help="FCN-8s model: EDeconvNet")
    parser.add_argument(
        "--ensemble",
        choices=("mean", "product"),
        default="mean",
        help="with --fcn: mean of probabilities (paper) or product of "
        "rectified scores (authors' code)",
    )
    parser.add_argument(
        "--fcn-mode",
        choices=("whole", "tiles"),
        default="whole",
        help="with --fcn: run it on the whole resized image (paper) or on "
        "the tiles of --tile-scale / --tile-overlap",
    )
    parser.add_argument("--crf", action="store_true", help="dense CRF refinement")
    parser.add_argument(
        "--proposals", type=int, default=50, help="proposals per image (top N)"
    )
    parser.add_argument(
        "--aggregation",
        choices=("max", "sum", "mean"),
        default=None,
        help="per-pixel combination of boxes (default: mean of "
        "probabilities for tiles, max otherwise)",
    )
    parser.add_argument(
        "--mode",
        choices=("proposals", "tiles", "whole"),
        default="proposals",
        help="proposals (paper), overlapping tiles, or the whole image "
        "resized to the input",
    )
    parser.add_argument(
        "--tile-scale",
        type=float,
        nargs="+",
        default=None,
        help="tiles: one or more scales; a window covers input/scale pixels "
        "(default: the package default)",
    )
    parser.add_argument(
        "--tile-overlap",
        type=float,
        default=None,
        help="tiles: overlap fraction of neighbouring windows (default: "
        "the package default)",
    )
    parser.add_argument(
        "--min-side", type=float, default=112, help="smallest proposal side, px"
    )
    parser.add_argument(
        "--margin", type=float, default=0.1, help="proposal extension margin"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    add_network_speed_arguments(parser)
    parser.add_argument(
        "--edge-model",
        default=None,
        help="OpenCV structured edge model (model.yml.gz) for EdgeBoxes; "
        "default $KERAS_DECONVNET_EDGE_MODEL, else gradient edges",
    )
    parser.add_argument(
        "--draw-proposals", action="store_true", help="also NAME_proposals.png"
    )
    parser.add_argument("--alpha", type=float, default=0.5, help="overlay opacity")
    parser.add_argument("--out", default="segmentations", help="output folder")
    return parser


def _load(path, what):
    import keras_deconvnet

    try:
        return keras_deconvnet.load(path)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {what}: {error}") from None


def run(args):
    from PIL import Image
    from tqdm import tqdm

    import keras_deconvnet
    from keras_deconvnet import visualization
    from keras_deconvnet.data.source import read_image
    from keras_deconvnet.inference import Segmenter

    model = _load(args.model, "--model")
    fcn = _load(args.fcn, "--fcn") if args.fcn else None
    # The model's own names and colours (a CamVid model is not VOC).
    info = keras_deconvnet.metadata(model)
    palette = info["palette"]
    optional_settings = {
        name: value
        for name, value in (
            ("tile_scale", args.tile_scale),
            ("tile_overlap", args.tile_overlap),
            ("precision", args.precision),
            ("optimize", args.optimize or None),
        )
        if value is not None
    }
    try:
        segmenter = Segmenter(
            model,
            num_proposals=args.proposals,
            batch_size=args.batch_size,
            aggregation=args.aggregation,
            fcn=fcn,
            ensemble=args.ensemble,
            fcn_mode=args.fcn_mode,
            crf=args.crf,
            mode=args.mode,
            min_side=args.min_side,
            margin=args.margin,
            edge_model=args.edge_model,
            **optional_settings,
        )
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None
    os.makedirs(args.out, exist_ok=True)
    failures = 0
    for path in tqdm(args.images, desc="segment", unit="image", file=sys.stderr):
        try:
            image = read_image(path)
        except (ValueError, FileNotFoundError) as error:
            tqdm.write(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        scores = segmenter.scores(image)
        boxes = segmenter.last_boxes
        labels = scores.argmax(-1)
        stem = os.path.join(args.out, os.path.splitext(os.path.basename(path))[0])
        visualization.save_label_png(labels, f"{stem}_labels.png", palette)
        picture = visualization.overlay(
            image, labels, args.alpha, info["class_names"], palette=palette
        )
        Image.fromarray(picture).save(f"{stem}_overlay.png")
        if args.draw_proposals:
            drawn = visualization.draw_proposals(image, boxes)
            Image.fromarray(drawn).save(f"{stem}_proposals.png")
        timings = ", ".join(
            f"{stage} {seconds:.2f} s"
            for stage, seconds in segmenter.last_timings.items()
            if stage != "num_boxes"
        )
        tqdm.write(
            f"{path}: {len(boxes)} boxes, {timings} -> {stem}_*.png",
            file=sys.stderr,
        )
    if failures:
        print(
            f"error: {failures} of {len(args.images)} images could not be read",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv=None):
    return run(build_parser().parse_args(argv))
