"""Tiled inference: a regular grid of overlapping square windows (NumPy).

A network trained on crops of one size sees, in tiled inference, windows
of the image at the scale it was trained at, instead of the whole image
squashed to its input size. Each window goes through the same crop ->
forward -> aggregate path as a proposal (`Segmenter(mode="tiles")`); the
softmax probabilities of overlapping windows are averaged
(`aggregate(..., mode="mean")`), and with several scales the per-scale
maps are averaged.
"""

import numbers

import numpy as np

# Defined apart, so that model metadata checks them without importing
# the inference package.
from keras_deconvnet.tile_settings import DEFAULT_TILE_OVERLAP  # noqa: F401
from keras_deconvnet.tile_settings import DEFAULT_TILE_SCALE  # noqa: F401
from keras_deconvnet.tile_settings import check_tile_overlap  # noqa: F401
from keras_deconvnet.tile_settings import check_tile_scales  # noqa: F401


def _starts(length, side, overlap):
    """Window starts along one axis: first at 0, last flush with the end."""
    if length <= side:
        # One window from the start; the crop pads the rest.
        return np.zeros(1)
    stride = side * (1 - overlap)
    count = int(np.ceil((length - side) / stride - 1e-9)) + 1
    starts = np.linspace(0, length - side, count)
    # Whole-pixel windows of a whole-pixel side: at scale 1 a crop is
    # exactly the image's pixels, with no resampling.
    return np.round(starts) if float(side).is_integer() else starts


def tile_boxes(image_shape, input_size, scales=DEFAULT_TILE_SCALE,
               overlap=DEFAULT_TILE_OVERLAP):
    """The boxes of tiled inference, one array per scale.

    At scale `s` a window covers `input_size / s` image pixels a side (the
    network then sees the image rescaled by `s`, as training crops taken
    at scale `s`). Along each axis the windows start at 0, the last one
    ends flush with the image border, and consecutive windows overlap by
    at least `overlap` of their side (the starts are spread evenly, and
    rounded to whole pixels when the side is a whole number). A side shorter than the window gets one
    window starting at 0 that reaches past the image (the crop is padded
    there). Together the windows of each scale cover every pixel.

    Args:
        image_shape: `(H, W, ...)` of the image (only H and W are read).
        input_size: the network's square input side `S` (224 for the
            paper's network).
        scales: one positive float or a sequence of them.
        overlap: fraction of a window shared with its neighbour, [0, 1).

    Returns:
        A list with one float32 `[N_s, 4]` array of boxes
        `[y1, x1, y2, x2]` (pixel edges) per scale, row by row.

    Raises:
        ValueError: a bad scale, overlap, input size or image shape.

    Example:

    Tiles through the exported `segment` signature (exported with
    `aggregation="mean"`, so that `scores` are mean probabilities):

    >>> maps = [segment(image=image, boxes=boxes)["scores"]
    ...         for boxes in tile_boxes(image.shape, 224, (0.75, 1.0))]
    >>> labels = np.argmax(np.mean(maps, axis=0), axis=-1)
    """
    scales = check_tile_scales(scales)
    overlap = check_tile_overlap(overlap)
    if (
        not isinstance(input_size, numbers.Integral)
        or isinstance(input_size, bool)
        or input_size < 1
    ):
        raise ValueError(
            "`input_size` must be a positive int. "
            f"Received: input_size={input_size!r}"
        )
    if len(image_shape) < 2 or min(image_shape[:2]) < 1:
        raise ValueError(
            "`image_shape` must be (H, W, ...) with H, W >= 1. "
            f"Received: image_shape={tuple(image_shape)}"
        )
    height, width = int(image_shape[0]), int(image_shape[1])
    boxes = []
    for scale in scales:
        side = input_size / scale
        rows = _starts(height, side, overlap)
        columns = _starts(width, side, overlap)
        top, left = np.meshgrid(rows, columns, indexing="ij")
        corners = np.stack([top.ravel(), left.ravel()], axis=-1)
        boxes.append(
            np.concatenate([corners, corners + side], -1).astype(np.float32)
        )
    return boxes
