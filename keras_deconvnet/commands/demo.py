"""`demo`: the main job on an embedded default, with no downloads."""

import os
import time

import numpy as np


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="build, run, save and reload a small DeconvNet (no downloads)",
        description=(
            "Builds a small DeconvNet, runs it on a generated image, saves "
            "it under --out and loads it back with keras_deconvnet.load()."
        ),
    )
    parser.add_argument("--out", default="saved_models", help="model folder")
    parser.add_argument(
        "--width", type=float, default=0.125, help="channel multiplier"
    )
    parser.add_argument("--num-classes", type=int, default=21)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def generated_image(size=224, seed=0):
    """An RGB test picture: gradient background with two shapes."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:size, 0:size] / size
    image = np.stack([rows, columns, 1 - rows], axis=-1) * 120
    image[size // 5 : size // 2, size // 5 : size // 2] = (220, 40, 40)
    circle = (rows - 0.65) ** 2 + (columns - 0.65) ** 2 < 0.04
    image[circle] = (40, 200, 60)
    image += rng.normal(0, 5, image.shape)
    return np.clip(image, 0, 255).astype("float32")


def run(args):
    import keras

    import keras_deconvnet

    keras.utils.set_random_seed(args.seed)
    started = time.perf_counter()
    model = keras_deconvnet.DeconvNet(
        num_classes=args.num_classes, width=args.width
    )
    print(
        f"Built {model.name}: width={args.width}, "
        f"{model.count_params():,} parameters "
        f"(the paper network, width=1.0, has 251,805,653 trainable)."
    )
    image = generated_image(seed=args.seed)[None]
    scores = model.predict(image, verbose=0)
    labels = scores.argmax(-1)
    print(
        f"Ran it on a generated 224x224 image: scores {scores.shape}, "
        f"{len(np.unique(labels))} distinct labels (untrained weights)."
    )
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "demo_deconvnet.keras")
    model.save(path)
    loaded = keras_deconvnet.load(args.out)
    difference = np.abs(loaded.predict(image, verbose=0) - scores).max()
    if difference > 1e-5:
        raise RuntimeError(
            f"The reloaded model differs from the saved one by {difference}."
        )
    print(f"Saved model: {os.path.abspath(path)}")
    print(
        f"Loaded it back with keras_deconvnet.load('{args.out}'): same "
        f"scores (max difference {difference:.1e}). "
        f"Took {time.perf_counter() - started:.1f} s."
    )
    return 0
