"""SavedModel export for TensorFlow Serving (TensorFlow only).

`export_saved_model` writes a Keras 3 `keras.export.ExportArchive` in the
TF-Serving layout `<directory>/<version>/` with four signatures:

- `serving_default` and `predict_crops`: `images` float32
  `[batch, S, S, 3]` RGB 0-255 -> `scores` float32 `[batch, S, S, C]`,
  `labels` int32 `[batch, S, S]`.
- `segment`: `image` uint8 `[H, W, 3]` and `boxes` float32 `[N, 4]`
  (`[y1, x1, y2, x2]` pixel edges, y2/x2 exclusive, 1 <= N <= max_boxes)
  -> `labels` int32 `[H, W]`, `scores` float32 `[H, W, C]`: crop and
  resize every box, run the network on the crops in batches, and
  aggregate the score maps (`keras_deconvnet.inference.aggregate`), all
  inside the graph. The boxes are proposals, or the windows of
  `keras_deconvnet.inference.tile_boxes` for tiled inference.
- `metadata`: no inputs -> `class_names` string `[C]`, the model's class
  names (`keras_deconvnet.metadata`), so a client can label the outputs.

The network always runs in inference mode (`training=False`).
"""

import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf

from keras_deconvnet.export import input_checks
from keras_deconvnet.inference.aggregate import aggregate
from keras_deconvnet.inference.crops import crop_proposals
from keras_deconvnet.inference.crops import model_input_size
from keras_deconvnet.layers import jit_compile_override
from keras_deconvnet.model_metadata import class_names_for

SIGNATURES = ("serving_default", "predict_crops", "segment", "metadata")
DEFAULT_MAX_IMAGE_SIZE = 4096
DEFAULT_CROP_BATCH_SIZE = 16
# About 200 x 224 x 224 x C float32 score maps per request: 800 MB at
# C = 21, four times the paper's 50 proposals.
DEFAULT_MAX_BOXES = 200


def next_version(directory):
    """The next TF-Serving version number under `directory` (1 if none)."""
    versions = [
        int(name)
        for name in (os.listdir(directory) if os.path.isdir(directory) else [])
        if re.fullmatch(r"\d+", name)
    ]
    return max(versions, default=0) + 1


def _forward_in_batches(model, crops, batch_size):
    """Runs `model` on `[N, S, S, 3]` crops, `batch_size` at a time."""
    count = tf.shape(crops)[0]
    batches = (count + batch_size - 1) // batch_size
    padded = tf.pad(
        crops, [[0, batches * batch_size - count], [0, 0], [0, 0], [0, 0]]
    )
    # Static crop shape: the model's layers are built for it.
    batched = tf.reshape(padded, [-1, batch_size, *crops.shape[1:]])
    scores = tf.map_fn(
        lambda batch: tf.cast(model(batch, training=False), tf.float32),
        batched,
        fn_output_signature=tf.float32,
        parallel_iterations=1,
    )
    scores = tf.reshape(scores, [-1, *scores.shape[2:]])
    return scores[:count]


def build_export_archive(
    model,
    max_image_size=DEFAULT_MAX_IMAGE_SIZE,
    crop_batch_size=DEFAULT_CROP_BATCH_SIZE,
    aggregation="max",
    max_boxes=DEFAULT_MAX_BOXES,
):
    """Returns a `keras.export.ExportArchive` with the four signatures.

    Args: see `export_saved_model`.
    """
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "SavedModel export needs the TensorFlow backend (set "
            "KERAS_BACKEND=tensorflow). "
            f"Received: backend={keras.backend.backend()}"
        )
    crop_size = model_input_size(model)
    for name, value in (
        ("max_image_size", max_image_size),
        ("crop_batch_size", crop_batch_size),
        ("max_boxes", max_boxes),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{name}` must be a positive int. Received: {name}={value}"
            )
    archive = keras.export.ExportArchive()
    archive.track(model)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, crop_size, crop_size, 3], tf.float32, "images")
        ]
    )
    def predict_crops(images):
        images = input_checks.check_crops(images, crop_size)
        scores = tf.cast(model(images, training=False), tf.float32)
        return {
            "scores": scores,
            "labels": tf.argmax(scores, axis=-1, output_type=tf.int32),
        }

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, 3], tf.uint8, "image"),
            tf.TensorSpec([None, 4], tf.float32, "boxes"),
        ]
    )
    def segment(image, boxes):
        image, boxes = input_checks.check_image_and_boxes(
            image, boxes, max_image_size
        )
        boxes = input_checks.check_box_count(boxes, max_boxes)
        # The crops of keras_deconvnet.inference (same as its Segmenter).
        crops = crop_proposals(image, boxes, crop_size)
        crops = tf.ensure_shape(crops, [None, crop_size, crop_size, 3])
        score_maps = _forward_in_batches(model, crops, crop_batch_size)
        scores = aggregate(
            score_maps, boxes, tf.shape(image)[:2], mode=aggregation
        )
        return {
            "labels": tf.argmax(scores, axis=-1, output_type=tf.int32),
            "scores": scores,
        }

    class_names = list(class_names_for(model))

    @tf.function(input_signature=[])
    def metadata():
        # A constant of the graph: the names travel inside the SavedModel.
        return {"class_names": tf.constant(class_names, tf.string)}

    archive.add_endpoint("serving_default", predict_crops)
    archive.add_endpoint("predict_crops", predict_crops)
    archive.add_endpoint("segment", segment)
    archive.add_endpoint("metadata", metadata)
    return archive


def export_saved_model(
    model,
    directory,
    version=None,
    max_image_size=DEFAULT_MAX_IMAGE_SIZE,
    crop_batch_size=DEFAULT_CROP_BATCH_SIZE,
    aggregation="max",
    max_boxes=DEFAULT_MAX_BOXES,
):
    """Exports `model` for TensorFlow Serving.

    The version folder is written under a temporary name and renamed when
    complete, so a server polling `directory` never loads half an export.

    Args:
        model: a Keras model mapping `[batch, S, S, 3]` RGB images in
            [0, 255] to `[batch, S, S, C]` raw scores (e.g. `DeconvNet`),
            built on the TensorFlow backend.
        directory: the model's base folder, e.g. `saved_models/deconvnet`
            (TF-Serving's `base_path`).
        version: positive int; `None` means one more than the largest
            version already in `directory` (1 in an empty one).
        max_image_size: `segment` rejects images with a side above this.
        crop_batch_size: crops per forward pass in `segment`.
        aggregation: how `segment` combines overlapping boxes per pixel
            and class: `"max"` (the paper's default) or `"sum"` of raw
            scores, or `"mean"` of softmax probabilities (tiled inference:
            feed it the boxes of `keras_deconvnet.inference.tile_boxes`,
            one call per scale, and average the calls' `scores`).
        max_boxes: `segment` rejects requests with more boxes than this
            (memory grows with the number of boxes).

    Returns:
        The path of the written version folder, `<directory>/<version>`.

    Raises:
        ValueError: a bad argument, a model that does not take square RGB
            crops, or a version that already exists.

    Example:

    >>> path = export_saved_model(model, "saved_models/deconvnet")
    >>> path
    'saved_models/deconvnet/1'
    """
    directory = os.fspath(directory)
    if version is None:
        version = next_version(directory)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(
            f"`version` must be a positive int. Received: version={version!r}"
        )
    target = os.path.join(directory, str(version))
    if os.path.exists(target):
        raise ValueError(
            f"Version {version} already exists at '{target}'. TF-Serving "
            "versions are immutable: pass another --version or none (the "
            "next free number)."
        )
    os.makedirs(directory, exist_ok=True)
    # Non-numeric names are ignored by TF-Serving's version policy.
    staging = tempfile.mkdtemp(prefix=f".export-{version}-", dir=directory)
    try:
        # Plain ops only: a serving runtime may have no XLA.
        with jit_compile_override(False):
            archive = build_export_archive(
                model,
                max_image_size=max_image_size,
                crop_batch_size=crop_batch_size,
                aggregation=aggregation,
                max_boxes=max_boxes,
            )
            archive.write_out(staging, verbose=False)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
