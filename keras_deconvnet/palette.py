"""Class names and the PASCAL VOC colour palette, shared by data and plots."""

import numpy as np

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus",
    "car", "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike",
    "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)

CAMVID_CLASSES = (
    "sky", "building", "pole", "road", "pavement", "tree", "sign/symbol",
    "fence", "car", "pedestrian", "bicyclist",
)

VOC_IGNORE_LABEL = 255
# SegNet's CamVid marks void pixels with the label after the last class.
CAMVID_VOID_LABEL = len(CAMVID_CLASSES)


def generic_class_names(num_classes):
    """`("class_0", ..., "class_{C-1}")`: names of classes nobody named."""
    return tuple(f"class_{index}" for index in range(num_classes))


def voc_palette(num_colors=256):
    """The PASCAL VOC colour map: `(num_colors, 3)` uint8.

    Entry `i` is the colour of label `i` in VOC's palette PNGs (built from
    the bits of `i`, as the VOC devkit's `labelcolormap.m`); entry 255 is
    the cream-white boundary/ignore colour.
    """
    palette = np.zeros((num_colors, 3), dtype=np.uint8)
    for label in range(num_colors):
        value, red, green, blue = label, 0, 0, 0
        for bit in range(8):
            red |= ((value >> 0) & 1) << (7 - bit)
            green |= ((value >> 1) & 1) << (7 - bit)
            blue |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        palette[label] = (red, green, blue)
    return palette


def colorize(labels, palette=None):
    """Maps an integer label map `(H, W)` to an RGB image `(H, W, 3)`."""
    palette = voc_palette() if palette is None else np.asarray(palette)
    labels = np.asarray(labels)
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= len(palette):
        raise ValueError(
            f"Labels must be in [0, {len(palette)}). Received: labels in "
            f"[{labels.min()}, {labels.max()}]"
        )
    return palette[labels]
