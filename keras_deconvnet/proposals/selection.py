"""The paper's proposal selection: size filter, top N, context margin."""

import numpy as np


def _check_boxes(boxes, name="boxes"):
    boxes = np.asarray(boxes, np.float32)
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(
            f"`{name}` must have shape [N, 4] ([y1, x1, y2, x2]). "
            f"Received: {name}.shape={boxes.shape}"
        )
    return boxes


def extend_boxes(boxes, margin=0.1, image_size=None):
    """Grows each box by `margin` times its own height/width on each side.

    The authors extend every proposal around the object before cropping
    (the amount is not in their code; 0.1 is this package's default, so a
    box becomes 1.2 times as tall and as wide, about the same centre).

    Args:
        boxes: float `[N, 4]` boxes `[y1, x1, y2, x2]` in pixels.
        margin: fraction of the box side added on each side, >= 0.
        image_size: optional `(H, W)`; when given, extended boxes are
            clipped to the image. By default they may reach outside it
            (the crop is zero-padded there, as in the authors' code).

    Returns:
        float32 `[N, 4]` boxes.
    """
    if margin < 0:
        raise ValueError(f"`margin` must be >= 0. Received: margin={margin}")
    boxes = _check_boxes(boxes)
    heights = boxes[:, 2] - boxes[:, 0]
    widths = boxes[:, 3] - boxes[:, 1]
    grow = np.stack([-heights, -widths, heights, widths], axis=-1) * margin
    extended = boxes + grow
    if image_size is not None:
        height, width = image_size
        extended = np.clip(extended, 0, [height, width, height, width])
    return extended.astype(np.float32)


def select_proposals(
    boxes, scores, image_size, min_side=112, top_k=50, margin=0.1
):
    """Selects and extends proposals as the authors' inference does.

    1. Boxes (clipped to the image) whose shorter side is under `min_side`
       pixels are dropped (112 in the authors' `run_demo.m`).
    2. The `top_k` highest-scoring remaining boxes are kept (50 in the
       paper).
    3. Each is extended by `margin` (see `extend_boxes`).

    Args:
        boxes: float `[N, 4]` boxes `[y1, x1, y2, x2]` in pixels.
        scores: float `[N]` objectness scores.
        image_size: `(H, W)` of the image.
        min_side: minimum shorter side in pixels (0 keeps all non-empty
            boxes).
        top_k: number of boxes kept.
        margin: extension margin, see `extend_boxes`.

    Returns:
        `(boxes, scores)`: float32 `[K, 4]` and `[K]`, `K <= top_k`, best
        first. `K` is 0 when no box passes; callers decide what to do then
        (`Segmenter` falls back to the whole image).
    """
    boxes = _check_boxes(boxes)
    scores = np.asarray(scores, np.float32).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(
            "`boxes` and `scores` must have the same length. Received: "
            f"{len(boxes)} boxes and {len(scores)} scores"
        )
    if top_k < 1:
        raise ValueError(f"`top_k` must be >= 1. Received: top_k={top_k}")
    height, width = image_size
    clipped = np.clip(boxes, 0, [height, width, height, width])
    sides = np.minimum(
        clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
    )
    keep = (sides >= min_side) & (sides > 0)
    boxes, scores = clipped[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")[:top_k]
    return extend_boxes(boxes[order], margin), scores[order]
