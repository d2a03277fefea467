"""Pictures of segmentations: VOC-palette label PNGs, overlays, proposals.

Needs Pillow; no TensorFlow.
"""

import numpy as np

from keras_deconvnet import palette as palette_module
from keras_deconvnet.images import to_rgb_uint8

LEGEND_ROW = 20  # pixels per legend entry
LEGEND_SWATCH = 14
LEGEND_WIDTH = 170


def _pil():
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as error:
        raise ImportError(
            "Pictures need Pillow: pip install pillow==13.0.0"
        ) from error
    return Image, ImageDraw, ImageFont


def _font(size=14):
    _, _, ImageFont = _pil()
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def class_name(label, class_names=None):
    """The name of `label`, or `class <label>` when unknown."""
    names = palette_module.VOC_CLASSES if class_names is None else class_names
    if 0 <= label < len(names):
        return names[label]
    return "ignore" if label == palette_module.VOC_IGNORE_LABEL else f"class {label}"


def _full_palette(palette):
    """256 RGB colours: `palette` first (a model's classes), then VOC's."""
    colours = palette_module.voc_palette().copy()
    if palette is not None:
        palette = np.asarray(palette, np.uint8).reshape(-1, 3)[:256]
        colours[:len(palette)] = palette
    return colours


def label_image(labels, palette=None):
    """A palette ('P' mode) PIL image of an integer label map `[H, W]`.

    Pixel values are the labels. The colours are `palette` (one `[r, g,
    b]` per class, e.g. `keras_deconvnet.metadata(model)["palette"]`) and
    PASCAL VOC's for labels past it, so by default the file reads like a
    VOC `SegmentationClass` PNG.
    """
    Image, _, _ = _pil()
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(
            f"`labels` must be [H, W]. Received: labels.shape={labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise ValueError(
            "A palette PNG holds labels 0..255. Received: labels in "
            f"[{labels.min()}, {labels.max()}]"
        )
    picture = Image.fromarray(labels.astype(np.uint8), mode="P")
    picture.putpalette(_full_palette(palette).reshape(-1).tolist())
    return picture


def save_label_png(labels, path, palette=None):
    """Writes `labels` `[H, W]` as a palette PNG at `path` (VOC colours
    unless `palette` is given, see `label_image`)."""
    label_image(labels, palette).save(path, format="PNG")


def overlay(image, labels, alpha=0.5, class_names=None, legend=True,
            palette=None):
    """The image blended with the label colours, with a legend on the right.

    Args:
        image: uint8 RGB `[H, W, 3]` (grayscale/RGBA are converted).
        labels: integer `[H, W]` label map.
        alpha: weight of the label colours (0 shows only the image).
        class_names: names of the labels (PASCAL VOC's by default).
        legend: whether to add a panel naming the classes present, each
            with its colour and its share of the pixels.
        palette: one `[r, g, b]` per class (a model's
            `keras_deconvnet.metadata(model)["palette"]`); VOC's colours
            by default and for labels past it.

    Returns:
        uint8 RGB `[H', W', 3]`; `W' = W + 170` with the legend.
    """
    image = to_rgb_uint8(image)
    labels = np.asarray(labels)
    if labels.shape != image.shape[:2]:
        raise ValueError(
            "`labels` must have the image's height and width. Received: "
            f"labels.shape={labels.shape}, image.shape={image.shape}"
        )
    colours = _full_palette(palette)
    blended = ((1 - alpha) * image.astype(np.float32)
               + alpha * palette_module.colorize(labels, colours))
    blended = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    if not legend:
        return blended
    return _add_legend(blended, labels, class_names, colours)


def _add_legend(picture, labels, class_names, colours):
    Image, ImageDraw, _ = _pil()
    present, counts = np.unique(labels, return_counts=True)
    height, width = picture.shape[:2]
    panel_height = max(height, LEGEND_ROW * (len(present) + 1) + 8)
    canvas = Image.new("RGB", (width + LEGEND_WIDTH, panel_height), "white")
    canvas.paste(Image.fromarray(picture), (0, 0))
    draw = ImageDraw.Draw(canvas)
    font = _font()
    draw.text((width + 8, 4), "classes present", fill="black", font=font)
    for row, (label, count) in enumerate(zip(present, counts), start=1):
        top = 4 + row * LEGEND_ROW
        left = width + 8
        draw.rectangle(
            [left, top, left + LEGEND_SWATCH, top + LEGEND_SWATCH],
            fill=tuple(int(c) for c in colours[int(label)]),
            outline="black",
        )
        share = 100.0 * count / labels.size
        share = "<1%" if share < 1 else f"{share:.0f}%"
        draw.text(
            (left + LEGEND_SWATCH + 6, top),
            f"{class_name(int(label), class_names)} {share}",
            fill="black",
            font=font,
        )
    return np.asarray(canvas)


def draw_proposals(image, boxes, colour=(255, 255, 0), width=2, max_boxes=50):
    """The image with boxes `[y1, x1, y2, x2]` (pixel edges) outlined.

    Args:
        image: uint8 RGB `[H, W, 3]`.
        boxes: float `[N, 4]`; parts outside the image are not drawn.
        colour: RGB outline colour.
        width: outline width in pixels.
        max_boxes: at most this many boxes (the first ones) are drawn.

    Returns:
        uint8 RGB `[H, W, 3]`.
    """
    Image, ImageDraw, _ = _pil()
    canvas = Image.fromarray(to_rgb_uint8(image))
    draw = ImageDraw.Draw(canvas)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)[:max_boxes]
    for top, left, bottom, right in boxes:
        # PIL rectangles include their last pixel; ours exclude y2, x2.
        draw.rectangle(
            [float(left), float(top), float(right) - 1, float(bottom) - 1],
            outline=colour,
            width=width,
        )
    return np.asarray(canvas)
