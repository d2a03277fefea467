"""Proposal crops with the geometry of `aggregate` (TensorFlow only).

Crop cell `r` of an `S x S` crop of box `[y1, x1, y2, x2]` has its centre
at image coordinate `y = y1 + (r + 0.5) * (y2 - y1) / S` (pixel edges), the
exact inverse of the projection in `aggregate`, so a crop pasted back with
`aggregate` lands where it came from. The image is sampled bilinearly
between pixel centres, clamped to the edge pixels inside the image
(`0 <= y < H`) and zero outside it. A box `[0, 0, H, W]` gives exactly
`tf.image.resize(image, (S, S))`.

Padding: crop cells outside the image are RGB 0, before the model
subtracts its mean, as in the authors' inference code
(`generate_EDeconvNet_CRF_results.m` pads the image with MATLAB's
`padarray` default, 0, and `preprocess_image_bb.m` subtracts the mean
from the resized crop), so the network sees `-mean` there, as the
converted Caffe weights expect. Two small differences remain, both within
one image pixel of the border: MATLAB's `imresize` interpolates between
the border pixel and the zero padding where we clamp to the border pixel,
and it low-pass filters when it shrinks a crop where we sample bilinearly.
"""

import tensorflow as tf


def model_input_size(model):
    """The side `S` of a model taking square RGB crops `[batch, S, S, 3]`.

    Raises:
        ValueError: the model's input is not `[batch, S, S, 3]` with a
            known `S`.
    """
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    shape = tuple(shape)
    if (
        len(shape) != 4
        or shape[1] is None
        or shape[1] != shape[2]
        or shape[3] != 3
    ):
        raise ValueError(
            f"Model '{model.name}' must take square RGB crops "
            f"[batch, S, S, 3] of a fixed size S. "
            f"Received: model.input_shape={shape}"
        )
    return int(shape[1])


def crop_proposals(image, boxes, crop_size):
    """Crops and resizes boxes of one image to `crop_size x crop_size`.

    Args:
        image: `[H, W, channels]` image, any real dtype (cast to float32).
        boxes: float `[N, 4]` boxes `[y1, x1, y2, x2]` in pixels; they may
            reach outside the image.
        crop_size: side `S` of the square crops (224 for DeconvNet).

    Returns:
        float32 `[N, S, S, channels]` crops.
    """
    image = tf.cast(image, tf.float32)
    boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    size = float(crop_size)
    # One replicated pixel around the image makes sampling between the
    # border pixel centres and the image edge clamp to the border pixel.
    padded = tf.pad(image, [[1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    top, left, bottom, right = tf.unstack(boxes, axis=-1)
    half_row = 0.5 * (bottom - top) / size
    half_column = 0.5 * (right - left) / size
    # crop_and_resize puts corner samples at y1n * (H_padded - 1) and
    # y2n * (H_padded - 1) in padded pixel-centre indices (= y + 0.5).
    normalized = tf.stack(
        [
            (top + 0.5 + half_row) / (height + 1.0),
            (left + 0.5 + half_column) / (width + 1.0),
            (bottom + 0.5 - half_row) / (height + 1.0),
            (right + 0.5 - half_column) / (width + 1.0),
        ],
        axis=-1,
    )
    crops = tf.image.crop_and_resize(
        padded[None],
        normalized,
        tf.zeros(tf.shape(boxes)[:1], tf.int32),
        [crop_size, crop_size],
        method="bilinear",
        extrapolation_value=0.0,
    )
    centres = (tf.range(crop_size, dtype=tf.float32) + 0.5) / size
    rows = top[:, None] + centres * (bottom - top)[:, None]
    columns = left[:, None] + centres * (right - left)[:, None]
    inside_rows = tf.cast((rows >= 0) & (rows < height), tf.float32)
    inside_columns = tf.cast((columns >= 0) & (columns < width), tf.float32)
    inside = inside_rows[:, :, None, None] * inside_columns[:, None, :, None]
    return crops * inside
