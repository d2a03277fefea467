"""`make-synthetic DIR`: writes the synthetic VOC-format dataset."""

from keras_deconvnet.commands import command_parser


EXAMPLES = """
keras-deconvnet make-synthetic data/synthetic
keras-deconvnet make-synthetic data/small --num-train 20 --num-val 5 --image-size 160 160
"""


def build_parser():
    parser = command_parser(
        (
            "Writes a generated PASCAL VOC 2012-layout dataset (JPEGImages/, "
            "SegmentationClass/, SegmentationObject/ palette PNGs with 255 "
            "boundary bands, ImageSets/Segmentation/{train,val,trainval}"
            ".txt): "
            "objects of five VOC classes on textured backgrounds. Read it "
            "with load_source('synthetic', DIR) or load_source('voc', DIR)."
        ),
        EXAMPLES,
    )
    parser.add_argument("directory", metavar="DIR", help="folder to write")
    parser.add_argument(
        "--num-train", type=int, default=200, help="train examples (200)"
    )
    parser.add_argument(
        "--num-val", type=int, default=50, help="val examples (50)"
    )
    parser.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        default=(320, 320),
        metavar=("HEIGHT", "WIDTH"),
        help="image size (320 320)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="the dataset depends only on it"
    )
    return parser


def run(args):
    import time

    from keras_deconvnet.data.synthetic import write_synthetic_voc

    started = time.perf_counter()
    root = write_synthetic_voc(
        args.directory,
        num_train=args.num_train,
        num_val=args.num_val,
        image_size=tuple(args.image_size),
        seed=args.seed,
    )
    print(
        f"Wrote {args.num_train} train + {args.num_val} val examples "
        f"({args.image_size[0]}x{args.image_size[1]}) to {root} in "
        f"{time.perf_counter() - started:.1f} s."
    )
    return 0


def main(argv=None):
    return run(build_parser().parse_args(argv))
