"""EdgeBoxes object proposals (Zitnick and Dollar, ECCV 2014) via OpenCV.

Box convention, used everywhere in keras_deconvnet: `[y1, x1, y2, x2]`,
float32, in pixel-edge coordinates. Pixel `(row, column)` covers the unit
square `[row, row + 1) x [column, column + 1)`, so its centre is at
`(row + 0.5, column + 0.5)`, and a box covering rows 10..19 and columns
5..9 inclusive is `[10, 5, 20, 10]` (y2 and x2 exclusive).
"""

import numpy as np

from keras_deconvnet.images import to_rgb_uint8
from keras_deconvnet.proposals import edges as edges_module

# Below this size EdgeBoxes finds nothing useful (its search windows and
# edge groups are a few pixels wide).
MIN_IMAGE_SIDE = 8


def _empty():
    return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)


def propose(
    image,
    max_boxes=2000,
    edge_model=None,
    alpha=0.65,
    beta=0.75,
    min_score=0.01,
    min_box_area=1000,
):
    """EdgeBoxes proposals of an image, best first.

    The edge map is OpenCV's structured edge detector when a model file is
    given (`edge_model`, or the `KERAS_DECONVNET_EDGE_MODEL` environment
    variable), otherwise `edges.gradient_edges` (no download needed; a
    warning says so once per process).

    Args:
        image: uint8 RGB `(H, W, 3)`; grayscale `(H, W)`/`(H, W, 1)` and
            RGBA `(H, W, 4)` are converted; float images are read as
            [0, 255].
        max_boxes: at most this many boxes (the paper uses about 2000).
        edge_model: path to OpenCV's structured edge model (`model.yml.gz`).
        alpha: EdgeBoxes sliding-window step (OpenCV default 0.65).
        beta: EdgeBoxes non-maximum suppression IoU (OpenCV default 0.75).
        min_score: boxes scoring lower are dropped.
        min_box_area: boxes smaller than this many pixels are dropped
            (OpenCV default 1000).

    Returns:
        `(boxes, scores)`: float32 `[N, 4]` boxes `[y1, x1, y2, x2]` in
        pixel-edge coordinates (see the module docstring) inside the image,
        and float32 `[N]` objectness scores, sorted by decreasing score.
        An image smaller than 8 px on a side, or with no edges, gives
        `N = 0`.

    Raises:
        ValueError: the image shape or `max_boxes` is invalid.
        FileNotFoundError: `edge_model` names no file.

    Example:

    >>> boxes, scores = propose(image)
    >>> boxes, scores = select_proposals(boxes, scores, image.shape[:2])
    """
    if int(max_boxes) < 1:
        raise ValueError(
            f"`max_boxes` must be a positive integer. Received: "
            f"max_boxes={max_boxes}"
        )
    image = to_rgb_uint8(image)
    model_path = edges_module.resolve_edge_model(edge_model)
    height, width = image.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE:
        return _empty()
    if model_path is None:
        edges_module.warn_gradient_fallback()
        edge_map, orientation = edges_module.gradient_edges(image)
    else:
        edge_map, orientation = edges_module.structured_edges(
            image, model_path
        )
    if not np.any(edge_map > 0):
        return _empty()
    cv2 = edges_module._cv2()
    detector = cv2.ximgproc.createEdgeBoxes(
        alpha=alpha,
        beta=beta,
        minScore=min_score,
        maxBoxes=int(max_boxes),
        minBoxArea=min_box_area,
    )
    found, scores = detector.getBoundingBoxes(edge_map, orientation)
    if len(found) == 0:
        return _empty()
    found = np.asarray(found, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    # OpenCV gives (x, y, width, height) with x, y the first pixel.
    x, y, box_width, box_height = found.T
    boxes = np.stack([y, x, y + box_height, x + box_width], axis=-1)
    boxes = np.clip(boxes, 0, [height, width, height, width])
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores = boxes[valid], scores[valid]
    order = np.argsort(-scores, kind="stable")
    return boxes[order].astype(np.float32), scores[order].astype(np.float32)
