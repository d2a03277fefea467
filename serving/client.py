"""Segments an image with a DeconvNet served by TensorFlow Serving.

    python serving/client.py IMAGE --host 127.0.0.1 --port 8500 \
        --model deconvnet --signature segment --out label.png

`segment` sends the image and its proposal boxes (EdgeBoxes proposals
selected as in the paper by default, the whole image with
`--boxes whole`, or boxes from a .npy/.json file) and writes the label map
as a VOC-palette PNG. `predict_crops` sends the image resized to the
model's crop size and resizes the labels back. `--list` prints the
model's signatures (GetModelMetadata). `--protocol rest` uses the REST
API (port 8501 in the provided docker-compose.yml).
"""

import argparse
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Call a DeconvNet on TF-Serving (gRPC or REST)."
    )
    parser.add_argument("image", nargs="?", help="the image file (jpg/png)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=8500, help="8500 gRPC, 8501 REST"
    )
    parser.add_argument("--protocol", choices=("grpc", "rest"), default="grpc")
    parser.add_argument("--model", default="deconvnet", help="model name")
    parser.add_argument("--version", type=int, default=None)
    parser.add_argument(
        "--signature",
        choices=("segment", "predict_crops", "serving_default"),
        default="segment",
    )
    parser.add_argument(
        "--boxes",
        default="proposals",
        help=(
            "segment only: 'proposals' (EdgeBoxes, top 50 with shorter side "
            ">= 112, extended by 10%%), 'whole' (one box, the image), or a "
            ".npy/.json file of [N, 4] [y1, x1, y2, x2] pixel boxes"
        ),
    )
    parser.add_argument("--out", default="label.png", help="label PNG to write")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="deadline in seconds"
    )
    parser.add_argument(
        "--max-message-mb",
        type=int,
        default=512,
        help="gRPC message size limit in MiB (gRPC's default is 4)",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the signatures and exit"
    )
    args = parser.parse_args(argv)
    if not args.list and args.image is None:
        parser.error("IMAGE is required (or use --list)")
    return args


def read_boxes(spec, image):
    """Boxes for `segment` from the `--boxes` argument."""
    height, width = image.shape[:2]
    whole = np.array([[0, 0, height, width]], np.float32)
    if spec == "whole":
        return whole
    if spec == "proposals":
        from keras_deconvnet.proposals import propose
        from keras_deconvnet.proposals import select_proposals

        boxes, scores = propose(image)
        boxes, _ = select_proposals(boxes, scores, (height, width))
        # As the Segmenter: no usable proposal means the whole image.
        return boxes if len(boxes) else whole
    if spec.endswith(".npy"):
        boxes = np.load(spec)
    elif spec.endswith(".json"):
        with open(spec) as file:
            boxes = json.load(file)
    else:
        raise ValueError(
            "--boxes must be 'proposals', 'whole', a .npy or a .json file. "
            f"Received: --boxes {spec}"
        )
    return np.asarray(boxes, np.float32).reshape(-1, 4)


def main(argv=None):
    args = parse_args(argv)
    from keras_deconvnet.serving import Client

    client = Client(
        args.host,
        args.port,
        model_name=args.model,
        protocol=args.protocol,
        version=args.version,
        timeout=args.timeout,
        max_message_bytes=args.max_message_mb * 1024 * 1024,
    )
    with client:
        signatures = client.signatures()
        if args.list:
            for name, signature in sorted(signatures.items()):
                print(f"{name}:")
                for side in ("inputs", "outputs"):
                    for key, (dtype, shape) in sorted(signature[side].items()):
                        print(f"  {side[:-1]} {key}: {dtype} {list(shape)}")
            return 0
        from PIL import Image

        from keras_deconvnet.data.source import read_image
        from keras_deconvnet.palette import voc_palette

        image = read_image(args.image)
        if args.signature == "segment":
            boxes = read_boxes(args.boxes, image)
            labels = client.segment(image, boxes, outputs=("labels",))["labels"]
            print(f"Segmented {args.image} from {len(boxes)} boxes.")
        else:
            crop_size = signatures["predict_crops"]["inputs"]["images"][1][1]
            crop = np.asarray(
                Image.fromarray(image).resize((crop_size, crop_size), Image.BILINEAR),
                np.float32,
            )
            crop_labels = client.predict_crops(crop[None], outputs=("labels",))
            labels = np.asarray(
                Image.fromarray(crop_labels["labels"][0].astype(np.uint8)).resize(
                    (image.shape[1], image.shape[0]), Image.NEAREST
                )
            )
        label_image = Image.fromarray(labels.astype(np.uint8), mode="L")
        label_image.putpalette(voc_palette().ravel().tolist())
        label_image.save(args.out)
        present = ", ".join(str(label) for label in np.unique(labels))
        print(f"Wrote {os.path.abspath(args.out)} (labels present: {present}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
