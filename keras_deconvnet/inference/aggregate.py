"""In-graph aggregation of proposal score maps (TensorFlow only).

Resampling convention (shared with `crops.crop_proposals`): boxes are
`[y1, x1, y2, x2]` in pixel-edge coordinates, pixel `(i, j)` of the image
has its centre at `(i + 0.5, j + 0.5)`. A score map of `h x w` cells is
stretched over its box, so image pixel `i` samples the map at the
continuous cell-centre coordinate

    v = (i + 0.5 - y1) * h / (y2 - y1) - 0.5

(the half-pixel-centre rule of `tf.image.resize`, also for fractional box
sizes), by linear interpolation between cells `floor(v)` and
`floor(v) + 1`, with `v` clamped to `[0, h - 1]`; the same along x. A box
covers the pixels whose centres lie in it, `y1 <= i + 0.5 < y2` and
`x1 <= j + 0.5 < x2`; pixels outside the image are dropped.
"""

import tensorflow as tf

# Scores of the classes other than background where no proposal covers a
# pixel: background (class 0) wins there, and softmax gives it probability
# 1 without the infinities that would break JSON serving or -log p.
UNCOVERED_SCORE = -1e4

_SIGNATURE = (
    tf.TensorSpec([None, None, None, None], tf.float32, name="score_maps"),
    tf.TensorSpec([None, 4], tf.float32, name="boxes"),
    tf.TensorSpec([2], tf.int32, name="image_size"),
)


def _axis_samples(start, end, map_size, image_size):
    """Covered image indices along one axis and their map interpolation.

    Returns `(first, last, lower, upper, weight)`: image indices
    `first..last-1` (clipped to the image) are covered; each samples the
    map between cells `lower` and `upper` with weight `weight` on `upper`.
    """
    first = tf.clip_by_value(
        tf.cast(tf.math.ceil(start - 0.5), tf.int32), 0, image_size
    )
    last = tf.clip_by_value(
        tf.cast(tf.math.ceil(end - 0.5), tf.int32), first, image_size
    )
    indices = tf.cast(tf.range(first, last), tf.float32)
    map_size_float = tf.cast(map_size, tf.float32)
    coordinate = (indices + 0.5 - start) * (map_size_float / (end - start))
    coordinate = tf.clip_by_value(coordinate - 0.5, 0.0, map_size_float - 1)
    lower_float = tf.floor(coordinate)
    lower = tf.cast(lower_float, tf.int32)
    upper = tf.minimum(lower + 1, map_size - 1)
    return first, last, lower, upper, coordinate - lower_float


def _lerp_gather(values, lower, upper, weight, axis):
    shape = [-1 if dimension == axis else 1 for dimension in range(3)]
    weight = tf.reshape(weight, shape)
    low = tf.gather(values, lower, axis=axis)
    high = tf.gather(values, upper, axis=axis)
    return low + (high - low) * weight


def _paste(score_map, box, height, width, fill):
    """One map resized into its box, padded to `[H, W, C]` with `fill`."""
    map_height = tf.shape(score_map)[0]
    map_width = tf.shape(score_map)[1]
    top, bottom, row_low, row_high, row_weight = _axis_samples(
        box[0], box[2], map_height, height
    )
    left, right, column_low, column_high, column_weight = _axis_samples(
        box[1], box[3], map_width, width
    )
    region = _lerp_gather(score_map, row_low, row_high, row_weight, axis=0)
    region = _lerp_gather(region, column_low, column_high, column_weight, 1)
    paddings = [[top, height - bottom], [left, width - right], [0, 0]]
    coverage = tf.pad(
        tf.ones([bottom - top, right - left], tf.float32), paddings[:2]
    )
    return tf.pad(region, paddings, constant_values=fill), coverage


def _aggregate(score_maps, boxes, image_size, mode):
    height, width = image_size[0], image_size[1]
    num_classes = tf.shape(score_maps)[3]
    fill = float("-inf") if mode == "max" else 0.0
    initial = tf.fill(tf.stack([height, width, num_classes]), fill)
    coverage = tf.zeros(tf.stack([height, width]), tf.float32)

    def body(index, accumulated, counts):
        score_map = score_maps[index]
        if mode == "mean":
            score_map = tf.nn.softmax(score_map)
        pasted, pasted_coverage = _paste(
            score_map, boxes[index], height, width, fill
        )
        if mode == "max":
            accumulated = tf.maximum(accumulated, pasted)
        else:
            accumulated = accumulated + pasted
        return index + 1, accumulated, counts + pasted_coverage

    # One proposal at a time: memory stays that of a few [H, W, C] maps.
    _, accumulated, counts = tf.while_loop(
        lambda index, *_: index < tf.shape(boxes)[0],
        body,
        (tf.constant(0), initial, coverage),
        parallel_iterations=1,
    )
    if mode == "mean":
        accumulated = accumulated / tf.maximum(counts, 1.0)[..., None]
        uncovered = tf.one_hot(0, num_classes)
    else:
        uncovered = tf.one_hot(
            0, num_classes, on_value=0.0, off_value=UNCOVERED_SCORE
        )
    scores = tf.where(counts[..., None] > 0, accumulated, uncovered)
    return scores, tf.cast(counts, tf.int32)


@tf.function(input_signature=_SIGNATURE, reduce_retracing=True)
def _aggregate_max(score_maps, boxes, image_size):
    return _aggregate(score_maps, boxes, image_size, "max")


@tf.function(input_signature=_SIGNATURE, reduce_retracing=True)
def _aggregate_sum(score_maps, boxes, image_size):
    return _aggregate(score_maps, boxes, image_size, "sum")


@tf.function(input_signature=_SIGNATURE, reduce_retracing=True)
def _aggregate_mean(score_maps, boxes, image_size):
    return _aggregate(score_maps, boxes, image_size, "mean")


AGGREGATIONS = {
    "max": _aggregate_max,
    "mean": _aggregate_mean,
    "sum": _aggregate_sum,
}


def aggregate(
    score_maps, boxes, image_size, mode="max", return_coverage=False
):
    """Places proposal score maps in the image and reduces them per pixel.

    Each map is resized bilinearly to its (possibly fractional) box with
    the convention of the module docstring, pixels outside the image are
    dropped, and the maps are combined per pixel and class:

    - `"max"` (the paper's default) and `"sum"` reduce the raw scores.
      Pixels no box covers get score 0 for background and
      `UNCOVERED_SCORE` (-1e4) for the other classes.
    - `"mean"` averages the softmax probabilities of the boxes covering
      a pixel (softmax on each map at its own resolution, then the
      bilinear paste, which keeps each pixel summing to 1). This is the
      aggregation of overlapping tiles: every window counts equally, the
      result is a probability map (the form the mean ensemble and the CRF
      take), and seams between windows blend instead of switching to
      whichever window has the larger raw scores, as `"max"` would. A
      mean of raw scores would instead be a product of the windows'
      distributions, dominated by the most confident one. Pixels no box
      covers get probability 1 for background.

    The returned coverage says which pixels no box looked at, so that a
    caller (the FCN ensemble, the CRF) can treat them as unknown instead
    of as certain background.

    A `tf.function` of TensorFlow ops (works inside a SavedModel with
    unknown N, h, w, H and W); proposals are reduced one at a time, so
    peak memory does not grow with N.

    Args:
        score_maps: float `[N, h, w, C]` raw scores of N crops.
        boxes: float `[N, 4]` boxes `[y1, x1, y2, x2]` in image pixels.
        image_size: `(H, W)`, ints or an int32 tensor.
        mode: `"max"`, `"sum"` or `"mean"`.
        return_coverage: also return the coverage counts.

    Returns:
        float32 `[H, W, C]` scores (probabilities for `"mean"`); with
        `return_coverage`, `(scores, coverage)` where `coverage` is int32
        `[H, W]`, the number of boxes covering each pixel.

    Raises:
        ValueError: unknown `mode`, or shapes that do not fit.

    Example:

    >>> scores = aggregate(model(crops), boxes, image.shape[:2])
    >>> labels = tf.argmax(scores, axis=-1)
    """
    if mode not in AGGREGATIONS:
        raise ValueError(
            f"`mode` must be one of {sorted(AGGREGATIONS)}. "
            f"Received: mode={mode!r}"
        )
    score_maps = tf.cast(score_maps, tf.float32)
    boxes = tf.cast(boxes, tf.float32)
    image_size = tf.cast(image_size, tf.int32)
    if score_maps.shape.rank is not None and score_maps.shape.rank != 4:
        raise ValueError(
            "`score_maps` must be [N, h, w, C]. "
            f"Received: score_maps.shape={score_maps.shape}"
        )
    if boxes.shape.rank is not None and (
        boxes.shape.rank != 2 or boxes.shape[-1] not in (None, 4)
    ):
        raise ValueError(
            f"`boxes` must be [N, 4]. Received: boxes.shape={boxes.shape}"
        )
    counts = (score_maps.shape[0], boxes.shape[0])
    if None not in counts and counts[0] != counts[1]:
        raise ValueError(
            "`score_maps` and `boxes` must hold the same number of "
            f"proposals. Received: {counts[0]} maps and {counts[1]} boxes"
        )
    scores, coverage = AGGREGATIONS[mode](
        score_maps, tf.reshape(boxes, [-1, 4]), image_size
    )
    return (scores, coverage) if return_coverage else scores
