"""The paper's proposal selection: size filter, top N, context margin."""

import numpy as np

from keras_deconvnet.data.boxes import extend_boxes


def _check_boxes(boxes, name="boxes"):
    boxes = np.asarray(boxes, np.float32)
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(
            f"`{name}` must have shape [N, 4] ([y1, x1, y2, x2]). "
            f"Received: {name}.shape={boxes.shape}"
        )
    return boxes


def select_proposals(
    boxes, scores, image_size, min_side=112, top_k=50, margin=0.1
):
    """Selects and extends proposals as the authors' inference does.

    1. Boxes (clipped to the image) whose shorter side is under `min_side`
       pixels are dropped (112 in the authors' `run_demo.m`).
    2. The `top_k` highest-scoring remaining boxes are kept (50 in the
       paper).
    3. Each is extended by `margin` times its height and width on each
       side (`data.boxes.extend_boxes`; the authors' amount is not in
       their code, 0.1 makes a box 1.2 times as tall and as wide).

    Args:
        boxes: float `[N, 4]` boxes `[y1, x1, y2, x2]` in pixels.
        scores: float `[N]` objectness scores.
        image_size: `(H, W)` of the image.
        min_side: minimum shorter side in pixels (0 keeps all non-empty
            boxes).
        top_k: number of boxes kept.
        margin: extension margin, a fraction of the box side, >= 0.

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
