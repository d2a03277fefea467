"""Benchmark: one 500x375 image with 50 proposals, end to end.

Two paths, each against the network forward on the same crops, timed in
interleaved rounds:

- `Segmenter.scores(image)` (`keras_deconvnet.inference`): proposals,
  crops, batched forward, aggregation. Its forward alone is the same model
  calls on the same number of crops in the same batches.
- the exported `segment` signature (`keras_deconvnet.export`) called with
  the proposals' boxes: crops, forward in batches and aggregation inside
  the SavedModel. Its forward alone is the exported `predict_crops`
  signature on the same crops in the same batches. The proposals are
  computed by the client, so their time is added to the signature's.

The share outside the forward is `1 - forward / total`.
"""

import tempfile
import time

import numpy as np

from common import Section
from common import ratio_row
from common import time_interleaved

IMAGE_SIZE = (375, 500)  # height, width
NUM_PROPOSALS = 50
TARGET_OUTSIDE_SHARE = 0.15
NUM_CLASSES = 21


def test_image():
    """A 375x500 photograph (scikit-image's astronaut) or a textured one."""
    try:
        from PIL import Image
        from skimage import data

        photo = Image.fromarray(data.astronaut())
        return np.asarray(photo.resize(IMAGE_SIZE[::-1], Image.BILINEAR))
    except ImportError:
        rng = np.random.default_rng(0)
        rows, columns = np.mgrid[: IMAGE_SIZE[0], : IMAGE_SIZE[1]]
        image = np.stack([rows % 97, columns % 61, (rows + columns) % 113], -1)
        noise = rng.integers(0, 40, image.shape)
        return (image * 2 + noise).clip(0, 255).astype("uint8")


def fifty_boxes(segmenter, image, section):
    """The Segmenter's proposals, topped up to 50 with random boxes."""
    boxes = np.asarray(segmenter.proposals(image), np.float32)
    if len(boxes) < NUM_PROPOSALS:
        section.note(
            f"{len(boxes)} proposals passed the paper's selection; "
            f"{NUM_PROPOSALS - len(boxes)} random boxes added to reach "
            f"{NUM_PROPOSALS}"
        )
        rng = np.random.default_rng(0)
        height, width = image.shape[:2]
        count = NUM_PROPOSALS - len(boxes)
        top_left = rng.uniform(0, 0.5, (count, 2)) * (height, width)
        size = rng.uniform(0.3, 0.5, (count, 2)) * (height, width)
        extra = np.concatenate([top_left, top_left + size], axis=1)
        boxes = np.concatenate([boxes, extra.astype(np.float32)])
    return boxes[:NUM_PROPOSALS]


def run(args, torch_available):
    section = Section("segment")
    try:
        import tensorflow as tf

        from keras_deconvnet.export import export_saved_model
        from keras_deconvnet.inference import Segmenter
        from keras_deconvnet.inference import crop_proposals
        from keras_deconvnet.models import DeconvNet
    except ImportError as error:
        section.available = False
        section.note(f"not available ({error})")
        section.print_report([])
        return section

    model = DeconvNet(num_classes=NUM_CLASSES, width=args.segment_width)
    image = test_image()
    segmenter = Segmenter(model, num_proposals=NUM_PROPOSALS)
    boxes = fifty_boxes(segmenter, image, section)
    batch_size = segmenter.batch_size
    crops = crop_proposals(image, boxes, 224)
    section.note(
        f"DeconvNet width {args.segment_width}, image {image.shape}, "
        f"{len(boxes)} boxes, crops of {batch_size} per forward"
    )

    def segmenter_forward():
        for start in range(0, len(boxes), batch_size):
            model.predict_on_batch(crops[start : start + batch_size])

    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        path = export_saved_model(model, directory, crop_batch_size=batch_size)
        section.note(f"export_saved_model: {time.perf_counter() - started:.1f} s")
        loaded = tf.saved_model.load(path)
        segment_signature = loaded.signatures["segment"]
        predict_crops = loaded.signatures["predict_crops"]

        def exported_forward():
            for start in range(0, len(boxes), batch_size):
                predict_crops(images=crops[start : start + batch_size])[
                    "scores"
                ].numpy()

        def exported_segment():
            segment_signature(
                image=tf.constant(image), boxes=tf.constant(boxes)
            )["labels"].numpy()

        def proposals():
            segmenter.proposals(image)

        candidates = {
            "Segmenter.scores (given boxes)": lambda: segmenter.scores(
                image, boxes
            ),
            "Segmenter forward alone": segmenter_forward,
            "proposals (EdgeBoxes + selection)": proposals,
            "exported segment (given boxes)": exported_segment,
            "exported predict_crops alone": exported_forward,
        }
        repeats = 2  # calls of several seconds each
        timings = time_interleaved(candidates, repeats, 1)

    stages = {key: round(value, 3) if isinstance(value, float) else value
              for key, value in segmenter.last_timings.items()}
    section.note(f"Segmenter stages of its last call, seconds: {stages}")
    section.add_timings(timings, {"boxes": len(boxes)})
    median = {name: timing["median_s"] for name, timing in timings.items()}
    paths = (
        ("Segmenter", "Segmenter.scores (given boxes)",
         "Segmenter forward alone"),
        ("exported segment", "exported segment (given boxes)",
         "exported predict_crops alone"),
    )
    for label, total_name, forward_name in paths:
        total = median[total_name] + median["proposals (EdgeBoxes + selection)"]
        section.rows.append({"name": f"{label} + proposals (total)",
                             "boxes": len(boxes), "median_s": total})
        share = 1.0 - median[forward_name] / total
        row = ratio_row(f"{label}: share of time outside the forward",
                        share, 1.0)
        row["target"] = f"< {TARGET_OUTSIDE_SHARE}"
        row["met"] = share < TARGET_OUTSIDE_SHARE
        section.ratios.append(row)
    section.print_report(["name", "boxes", "median_s", "min_s", "max_s"])
    return section
