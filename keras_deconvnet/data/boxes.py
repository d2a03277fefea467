"""Box geometry shared by every dataset, crop and proposal in this package.

The box convention:
    A box is `[y1, x1, y2, x2]` (float32) in pixel-edge coordinates of the
    image: row `r` of the image covers `r <= y < r + 1`. A box covering rows
    10..19 and columns 5..9 inclusive is `[10, 5, 20, 10]`: `y1`/`x1` are
    inclusive, `y2`/`x2` exclusive, so height is `y2 - y1` and width
    `x2 - x1`. Arrays of boxes have shape `(N, 4)`.

NumPy only (no TensorFlow).
"""

import numpy as np


def box_from_mask(mask):
    """The tightest box around the true pixels of a 2D mask.

    Args:
        mask: boolean array `(H, W)`.

    Returns:
        float32 `[y1, x1, y2, x2]`, or `None` when the mask is empty.

    Example:
    >>> mask = np.zeros((30, 30), bool); mask[10:20, 5:10] = True
    >>> box_from_mask(mask)
    array([10.,  5., 20., 10.], dtype=float32)
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"Expected a 2D mask. Received: shape={mask.shape}")
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(mask.any(axis=0))
    return np.array(
        [rows[0], columns[0], rows[-1] + 1, columns[-1] + 1], dtype=np.float32
    )


def box_areas(boxes):
    """Areas of `(N, 4)` boxes (zero for empty or inverted boxes)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    heights = np.maximum(boxes[:, 2] - boxes[:, 0], 0.0)
    widths = np.maximum(boxes[:, 3] - boxes[:, 1], 0.0)
    return heights * widths


def box_iou(boxes_a, boxes_b):
    """Intersection over union of every pair: `(N, 4), (M, 4) -> (N, M)`."""
    boxes_a = np.asarray(boxes_a, dtype=np.float32).reshape(-1, 4)
    boxes_b = np.asarray(boxes_b, dtype=np.float32).reshape(-1, 4)
    top = np.maximum(boxes_a[:, None, 0], boxes_b[None, :, 0])
    left = np.maximum(boxes_a[:, None, 1], boxes_b[None, :, 1])
    bottom = np.minimum(boxes_a[:, None, 2], boxes_b[None, :, 2])
    right = np.minimum(boxes_a[:, None, 3], boxes_b[None, :, 3])
    intersection = np.maximum(bottom - top, 0.0) * np.maximum(
        right - left, 0.0
    )
    union = box_areas(boxes_a)[:, None] + box_areas(boxes_b)[None, :]
    union = union - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0)


def extend_boxes(boxes, margin, image_size=None):
    """Grows boxes on every side by `margin` times their own height/width.

    `margin=0.5` on a 10x20 box adds 5 rows above and below and 10 columns
    left and right. The authors extend every proposal around the object
    before cropping, for training crops and at inference alike.

    Args:
        boxes: `(N, 4)` or `(4,)` boxes.
        margin: non-negative float, a fraction of the box size per side.
        image_size: optional `(H, W)`; when given, the extended boxes are
            clipped to the image. By default they may leave it (crops are
            padded there).

    Returns:
        float32 boxes of the same shape.
    """
    if margin < 0:
        raise ValueError(f"`margin` must be >= 0. Received: margin={margin}")
    boxes = np.asarray(boxes, dtype=np.float32)
    heights = boxes[..., 2] - boxes[..., 0]
    widths = boxes[..., 3] - boxes[..., 1]
    offsets = np.stack([-heights, -widths, heights, widths], axis=-1)
    extended = boxes + margin * offsets
    if image_size is not None:
        height, width = image_size
        extended = np.clip(extended, 0, [height, width, height, width])
    return extended.astype(np.float32)


def pixel_windows(boxes):
    """Integer windows `[y1, x1, y2, x2]` covering the boxes (int32).

    Edges are rounded outwards (floor of the start, ceil of the end), so a
    window always contains its box; every window is at least 1x1.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    starts = np.floor(boxes[..., :2])
    ends = np.maximum(np.ceil(boxes[..., 2:]), starts + 1)
    return np.concatenate([starts, ends], axis=-1).astype(np.int32)
