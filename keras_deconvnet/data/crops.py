"""Cropping image windows with zero padding (NumPy; no TensorFlow).

Windows use the box convention of `keras_deconvnet.data.boxes`:
`[y1, x1, y2, x2]` integer pixel edges, `y2`/`x2` exclusive, possibly
reaching outside the image. Areas outside the image become zeros in the
image crop and the ignore label in the label crop, as the paper's
training crops do (Caffe's zero padding, label 255 ignored).
"""

import numpy as np


def crop_with_padding(image, label, window, ignore_label):
    """Crops `window` from an image and its label map, padding outside.

    Args:
        image: `(H, W, C)` array.
        label: `(H, W)` integer array, or `None`.
        window: integer `[y1, x1, y2, x2]`; may extend beyond the image.
        ignore_label: label value written where the window leaves the image.

    Returns:
        `(image_crop, label_crop)` of shape `(y2 - y1, x2 - x1, C)` and
        `(y2 - y1, x2 - x1)` (`label_crop` is `None` when `label` is).

    Example:
    >>> image = np.ones((4, 4, 3), np.uint8)
    >>> label = np.zeros((4, 4), np.int32)
    >>> crop, crop_label = crop_with_padding(image, label, [-1, 2, 3, 6], 255)
    >>> crop[..., 0]          # row -1 and columns 4, 5 are outside
    array([[0, 0, 0, 0],
           [1, 1, 0, 0],
           [1, 1, 0, 0],
           [1, 1, 0, 0]], dtype=uint8)
    """
    y1, x1, y2, x2 = (int(value) for value in np.asarray(window).reshape(4))
    if y2 <= y1 or x2 <= x1:
        raise ValueError(
            f"A window needs y2 > y1 and x2 > x1. Received: window={window}"
        )
    height, width = image.shape[:2]
    image_crop = np.zeros((y2 - y1, x2 - x1) + image.shape[2:], image.dtype)
    label_crop = None
    if label is not None:
        label_crop = np.full((y2 - y1, x2 - x1), ignore_label, label.dtype)
    # The part of the window inside the image, in image and crop coordinates.
    top, left = max(y1, 0), max(x1, 0)
    bottom, right = min(y2, height), min(x2, width)
    if bottom > top and right > left:
        target = (slice(top - y1, bottom - y1), slice(left - x1, right - x1))
        image_crop[target] = image[top:bottom, left:right]
        if label is not None:
            label_crop[target] = label[top:bottom, left:right]
    return image_crop, label_crop
