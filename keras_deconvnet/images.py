"""Image arrays for inference: one conversion to RGB uint8 (NumPy only).

Image files are read by `keras_deconvnet.data.source.read_image`.
"""

import numpy as np


def to_rgb_uint8(image):
    """Returns `image` as a contiguous `(H, W, 3)` uint8 RGB array.

    Accepts `(H, W)` or `(H, W, 1)` grayscale, `(H, W, 3)` RGB and
    `(H, W, 4)` RGBA (alpha dropped); float images are taken to be in
    [0, 255] and are clipped. A contiguous uint8 RGB array is returned
    as is, without a copy.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(
            "Expected an image of shape (H, W), (H, W, 1), (H, W, 3) or "
            f"(H, W, 4). Received: image.shape={image.shape}"
        )
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    image = image[..., :3]
    if image.dtype != np.uint8:
        image = np.clip(np.round(image.astype(np.float64)), 0, 255)
    return np.ascontiguousarray(image, dtype=np.uint8)
