"""Trains a DeconvNet (or FCN-8s) with the paper's recipe (command `train`).

Stage 1 on object-centred crops, stage 2 on proposal crops starting from
the stage-1 model. Rerunning the same command after a crash or kill
resumes from the last checkpoint. A command line over
`keras_deconvnet.training.trainer.train`; `training/train.py` runs it.

A recipe file (`--config`, YAML or JSON) holds any of the flags below,
keyed by the flag's name with underscores (`batch_size: 8`,
`scale_range: [0.5, 1.0]`); flags on the command line override it.

Examples:

    python training/train.py --config training/configs/camvid_deconvnet.yaml \\
        --data-dir data/camvid --out saved_models/camvid
    python training/train.py --config training/configs/camvid_fcn8s.yaml \\
        --data-dir data/camvid --out saved_models/camvid-fcn8s
    python training/train.py --stage 1 --dataset synthetic \\
        --data-dir data/synthetic --width 0.0625 --epochs 2 \\
        --steps-per-epoch 20 --batch-size 4
    python training/train.py --stage 2 --dataset sbd --data-dir SBD/dataset \\
        --init saved_models/sbd-stage1-.../deconvnet.keras
    TF_CONFIG='{...}' python training/train.py --strategy multi_worker ...
"""

import argparse
import os
import sys

from keras_deconvnet.commands import DefaultsHelpFormatter
from keras_deconvnet.training_recipe import PAPER_BATCH_SIZE
from keras_deconvnet.training_recipe import PAPER_OPTIMIZER
from keras_deconvnet.data.registry import SOURCE_NAMES

# Only argparse-level parts of keras_deconvnet at module level (importing
# the package starts neither Keras nor TensorFlow): --help answers fast.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The --*-jit-compile choices and the `train()` values they stand for.
SWITCHES = {"auto": None, "on": True, "off": False}


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def build_parser(prog=None):
    parser = argparse.ArgumentParser(
        prog=prog,  # None: argparse names it after sys.argv[0]
        description=__doc__,
        formatter_class=DefaultsHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="synthetic", choices=SOURCE_NAMES,
                      help="dataset reader; 'synthetic' is generated in "
                      "--data-dir when that folder is empty")
    data.add_argument("--data-dir", default="data/synthetic",
                      help="dataset folder")
    data.add_argument("--image-dir", help="folder datasets: image folder")
    data.add_argument("--label-dir", help="folder datasets: label folder")
    data.add_argument("--num-classes", type=positive_int,
                      help="number of classes (folder datasets; VOC, SBD "
                      "and synthetic have 21)")
    data.add_argument("--ignore-label", type=int,
                      help="label without loss (VOC 255, CamVid 11)")
    data.add_argument("--class-names",
                      help="class names stored with the model: a,b,c or a "
                      "file of one name per line (default: classes.txt "
                      "beside the data, CamVid's or VOC's names)")
    data.add_argument("--crops",
                      choices=("objects", "proposals", "whole", "random"),
                      help="override the stage's crops: objects (stage 1), "
                      "proposals (stage 2), whole (resized images, the "
                      "FCN-style baseline), random (a random --input-size "
                      "crop of each full-resolution image rescaled by a "
                      "factor in --scale-range, padded with the ignore "
                      "label, randomly flipped; one crop per image per "
                      "pass)")
    data.add_argument("--scale-range", type=float, nargs=2,
                      metavar=("LOW", "HIGH"),
                      help="--crops random: range of the random scale "
                      "factor of the full-size image (default 0.5 1.0)")
    data.add_argument("--margin", type=float, default=0.1,
                      help="box growth per side for stage crops")
    data.add_argument("--iou-threshold", type=float, default=0.5,
                      help="stage 2: minimum IoU of a proposal with a "
                      "ground-truth instance box")
    data.add_argument("--class-weighting",
                      action=argparse.BooleanOptionalAction, default=False,
                      help="weight the loss by median frequency balancing")
    data.add_argument("--class-weight-power", type=float, default=1.0,
                      metavar="P",
                      help="with --class-weighting: the weights are "
                      "(median freq / freq) ** P; 1 is SegNet's, 0.5 the "
                      "softer square root (default 1)")

    recipe = parser.add_argument_group("recipe (defaults: the paper's)")
    recipe.add_argument("--arch", choices=("deconvnet", "fcn8s"),
                        default="deconvnet",
                        help="network: deconvnet, or fcn8s (FCN-8s, the "
                        "EDeconvNet ensemble's partner; saved as "
                        "OUT/fcn8s.keras)")
    recipe.add_argument("--stage", type=int, choices=(1, 2), default=1,
                        help="1: object crops; 2: proposal crops from the "
                        "stage-1 model (--init)")
    recipe.add_argument("--init", help="'imagenet' (VGG16, width 1.0), a "
                        "VGG16 weight file, or a saved DeconvNet .keras "
                        "(stage 2: the stage-1 result); default random")
    recipe.add_argument("--epochs", type=positive_int,
                        help="epochs (default 20 for stage 1, 40 for "
                        "stage 2)")
    recipe.add_argument("--steps-per-epoch", type=positive_int,
                        help="steps per epoch (default: one pass over the "
                        "crops)")
    recipe.add_argument("--batch-size", type=positive_int,
                        default=PAPER_BATCH_SIZE,
                        help="global batch, split across replicas")
    recipe.add_argument("--optimizer", choices=("sgd", "adam"),
                        default=PAPER_OPTIMIZER["optimizer"],
                        help="sgd: Caffe's SGD with momentum (the paper); "
                        "adam: AdamW with decoupled --weight-decay on "
                        "kernels only (try --lr 0.001)")
    recipe.add_argument("--lr", type=float,
                        default=PAPER_OPTIMIZER["learning_rate"],
                        help="base learning rate")
    recipe.add_argument("--momentum", type=float,
                        default=PAPER_OPTIMIZER["momentum"],
                        help="SGD momentum")
    recipe.add_argument("--weight-decay", type=float,
                        default=PAPER_OPTIMIZER["weight_decay"],
                        help="decay of kernels only: for sgd an L2 term "
                        "added to the gradient (Caffe), biases getting 2x "
                        "the learning rate; for adam decoupled (AdamW)")
    recipe.add_argument("--schedule", choices=("plateau", "step", "poly"),
                        default="plateau",
                        help="plateau: lr x0.1 when val mIoU stalls; step: "
                        "Caffe's x0.1 every --step-size steps; poly: lr x "
                        "(1 - step / total) ** 0.9, reaching 0 after "
                        "--epochs x --steps-per-epoch steps")
    recipe.add_argument("--step-size", type=positive_int,
                        help="step schedule period (default 9000 stage 1, "
                        "10000 stage 2)")
    recipe.add_argument("--plateau-patience", type=positive_int, default=3,
                        help="epochs without val mIoU gain before x0.1")
    recipe.add_argument("--width", type=float, default=1.0,
                        help="channel multiplier (1.0 = paper network)")
    recipe.add_argument("--input-size", type=int, default=224,
                        help="crop side, a multiple of 32 >= 224")
    recipe.add_argument("--seed", type=int, default=0,
                        help="seeds weights, crop order, crops and flips")
    recipe.add_argument("--mixed-precision",
                        action=argparse.BooleanOptionalAction, default=False,
                        help="mixed_bfloat16 on CPUs and GPUs from Ampere on, "
                        "mixed_float16 (loss scaling) on older GPUs; scores "
                        "and loss in float32")
    recipe.add_argument("--jit-compile", choices=tuple(SWITCHES),
                        default="auto",
                        help="XLA-compile the training step; auto: on GPU "
                        "only (slower to compile and no faster on CPU)")
    recipe.add_argument("--pooling-jit-compile", choices=tuple(SWITCHES),
                        default="auto",
                        help="run the (un)pooling layers as XLA clusters in "
                        "the TensorFlow training graph; auto: on for "
                        "single-device runs of at least 200 steps (the "
                        "compilation repays itself)")
    recipe.add_argument("--bn-examples", type=int,
                        help="training crops over which BN statistics are "
                        "re-estimated after training (0: skip; default: "
                        "the crops trained on, at least 512, at most the "
                        "paper's 14000)")

    stored = parser.add_argument_group(
        "inference settings saved with the model (no effect on training)")
    stored.add_argument("--tile-scale", type=float, nargs="+",
                        metavar="SCALE",
                        help="the scale(s) of tiled inference that suit the "
                        "model (evaluate.py --mode tiles and Segmenter use "
                        "them when not given)")
    stored.add_argument("--tile-overlap", type=float,
                        help="the overlap fraction of tiled inference that "
                        "suits the model")

    run = parser.add_argument_group("run")
    run.add_argument("--config", metavar="FILE",
                     help="YAML or JSON file of flag values (keys: flag "
                     "names with underscores); command-line flags "
                     "override it")
    run.add_argument("--out", help="run folder (default: saved_models/"
                     "<dataset>-stage<k>-<time>, or the newest unfinished "
                     "one, which is resumed)")
    run.add_argument("--strategy", default="default",
                     choices=("default", "mirrored", "multi_worker",
                              "data_parallel"),
                     help="mirrored: all local GPUs (or CPU devices); "
                     "multi_worker: machines listed in TF_CONFIG "
                     "(TensorFlow only); with KERAS_BACKEND=jax, mirrored "
                     "and data_parallel are keras.distribution."
                     "DataParallel over the local devices")
    run.add_argument("--logical-cpus", type=positive_int,
                     help="split the CPU into this many devices (to try "
                     "--strategy mirrored without GPUs)")
    run.add_argument("--heartbeat-timeout", type=positive_float,
                     metavar="SECONDS",
                     help="multi_worker: seconds a worker may go without a "
                     "heartbeat before the run stops (default: 60; "
                     "TensorFlow's own, 10, is missed by workers on a busy "
                     "CPU)")
    run.add_argument("--checkpoint-every", type=positive_int, default=100,
                     help="steps between checkpoints: a killed run loses "
                     "at most this many steps when rerun")
    run.add_argument("--validation-steps", type=positive_int,
                     help="validation batches per epoch (default: the "
                     "whole val split)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--resume-anyway", action="store_true",
                     help="resume a checkpoint written with other settings")
    run.add_argument("--allow-folded-bn", action="store_true",
                     help="train from an --init whose BN is folded for "
                     "inference (a Caffe-converted model)")
    return parser


def parse_args(argv=None):
    """Parses `argv`, with the `--config` file's values as defaults."""
    parser = build_parser()
    config_parser = argparse.ArgumentParser(add_help=False)
    config_parser.add_argument("--config")
    known, _ = config_parser.parse_known_args(argv)
    if known.config:
        from keras_deconvnet.commands.config_file import config_defaults

        parser.set_defaults(**config_defaults(parser, known.config))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.class_names and args.num_classes:
        from keras_deconvnet.data.class_names import parse_class_names

        names = parse_class_names(args.class_names)
        if len(names) != args.num_classes:
            raise SystemExit(f"error: --class-names gives {len(names)} names "
                             f"for --num-classes {args.num_classes}")
    if args.logical_cpus:
        from keras_deconvnet.training.strategies import configure_logical_cpus

        configure_logical_cpus(args.logical_cpus)
    if args.strategy == "multi_worker" and args.heartbeat_timeout:
        from keras_deconvnet.training import strategies

        strategies.configure_coordination_service(args.heartbeat_timeout)
    from keras_deconvnet.training.callbacks import TrainingDivergedError
    from keras_deconvnet.training.trainer import train

    options = {}
    if args.scale_range is not None:  # else train's default
        options["scale_range"] = tuple(args.scale_range)
    try:
        result = train(
            **options,
            arch=args.arch, dataset=args.dataset, data_dir=args.data_dir,
            out_dir=args.out,
            stage=args.stage, crops=args.crops, strategy=args.strategy,
            optimizer=args.optimizer,
            epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
            batch_size=args.batch_size, learning_rate=args.lr,
            momentum=args.momentum, weight_decay=args.weight_decay,
            schedule=args.schedule, step_size=args.step_size,
            plateau_patience=args.plateau_patience, width=args.width,
            input_size=args.input_size, init=args.init, seed=args.seed,
            mixed_precision=args.mixed_precision,
            num_classes=args.num_classes, ignore_label=args.ignore_label,
            image_dir=args.image_dir, label_dir=args.label_dir,
            class_names=args.class_names,
            margin=args.margin, iou_threshold=args.iou_threshold,
            class_weighting=args.class_weighting,
            class_weight_power=args.class_weight_power,
            tile_scale=args.tile_scale, tile_overlap=args.tile_overlap,
            checkpoint_every=args.checkpoint_every,
            validation_steps=args.validation_steps,
            bn_examples=args.bn_examples,
            jit_compile=SWITCHES[args.jit_compile],
            pooling_jit_compile=SWITCHES[args.pooling_jit_compile],
            resume_anyway=args.resume_anyway,
            allow_folded_batch_norm=args.allow_folded_bn,
            verbose=0 if args.quiet else 1,
        )
    except TrainingDivergedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if result.model_path:
        print(f"Model: {result.model_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
