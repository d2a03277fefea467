"""Which windows the training crops come from, per stage of the paper.

- Stage 1 (`object_windows`): one window per ground-truth object instance,
  its box extended by a margin.
- Stage 2 (`proposal_windows`): the proposals that overlap some
  ground-truth instance box with IoU >= a threshold, extended alike.
- Whole images (`whole_windows`): the FCN-style baseline.

A window is an integer `[y1, x1, y2, x2]` in pixel edges (see
`keras_deconvnet.data.boxes`); it may leave the image, where crops are
zero-padded. No TensorFlow here.
"""

import numpy as np

from keras_deconvnet.data.boxes import box_iou
from keras_deconvnet.data.boxes import extend_boxes
from keras_deconvnet.data.boxes import pixel_windows


def _pack(indices, windows):
    windows = [np.asarray(w, np.int32).reshape(-1, 4) for w in windows]
    if not windows:
        return np.zeros((0,), np.int64), np.zeros((0, 4), np.int32)
    return np.asarray(indices, np.int64), np.concatenate(windows)


def _instance_boxes(source, index):
    instances = source.instances(index)
    if instances is None:
        raise ValueError(
            f"Stage crops need object instances, and {source.name} has none "
            f"for {source.files[index].name} (e.g. no SegmentationObject/ "
            "folder). Use crops='whole'."
        )
    return np.array([box for _, box in instances], np.float32).reshape(-1, 4)


def object_windows(source, margin=0.1):
    """Stage 1: a window per ground-truth instance.

    Args:
        source: a `SegmentationSource`.
        margin: each box grows by this fraction of its size on every side.

    Returns:
        `(indices int64 [R], windows int32 [R, 4])`: example index and
        window of each crop.
    """
    indices, windows = [], []
    for index in range(len(source)):
        boxes = _instance_boxes(source, index)
        indices += [index] * len(boxes)
        windows.append(pixel_windows(extend_boxes(boxes, margin)))
    return _pack(indices, windows)


def select_overlapping(proposals, instance_boxes, iou_threshold=0.5):
    """Proposals whose IoU with some instance box is >= `iou_threshold`.

    Args:
        proposals: `[N, 4]` boxes.
        instance_boxes: `[M, 4]` ground-truth boxes.
        iou_threshold: in (0, 1].

    Returns:
        int64 `[K]` positions of the kept proposals, in their order.
    """
    if not 0 < iou_threshold <= 1:
        raise ValueError(
            f"`iou_threshold` must be in (0, 1]. Received: "
            f"iou_threshold={iou_threshold}"
        )
    proposals = np.asarray(proposals, np.float32).reshape(-1, 4)
    instance_boxes = np.asarray(instance_boxes, np.float32).reshape(-1, 4)
    if len(proposals) == 0 or len(instance_boxes) == 0:
        return np.zeros((0,), np.int64)
    best = box_iou(proposals, instance_boxes).max(axis=1)
    return np.flatnonzero(best >= iou_threshold).astype(np.int64)


def proposal_windows(source, proposals, iou_threshold=0.5, margin=0.1):
    """Stage 2: a window per proposal overlapping a ground-truth instance.

    Args:
        source: a `SegmentationSource`.
        proposals: list (one per example) of `[N_i, 4]` proposal boxes.
        iou_threshold: minimum IoU with some ground-truth instance box.
        margin: each kept box grows by this fraction on every side.

    Returns:
        `(indices int64 [R], windows int32 [R, 4])`.
    """
    if len(proposals) != len(source):
        raise ValueError(
            f"Expected one proposal array per example ({len(source)}). "
            f"Received: {len(proposals)}"
        )
    indices, windows = [], []
    for index, boxes in enumerate(proposals):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        kept = boxes[
            select_overlapping(
                boxes, _instance_boxes(source, index), iou_threshold
            )
        ]
        indices += [index] * len(kept)
        windows.append(pixel_windows(extend_boxes(kept, margin)))
    return _pack(indices, windows)


def whole_windows(source):
    """A window covering each whole image."""
    windows = [
        (0, 0, *source.image_shape(index)) for index in range(len(source))
    ]
    return _pack(list(range(len(source))), windows)
