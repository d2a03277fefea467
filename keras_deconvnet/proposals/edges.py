"""Edge and orientation maps for EdgeBoxes.

Two sources:

- `structured_edges(image, model_path)`: OpenCV's structured edge detector
  (the random forest of Dollar and Zitnick that EdgeBoxes was designed
  for). Its model file (`model.yml.gz`) ships in no package, so it is used
  only when the user passes one.
- `gradient_edges(image)`: a no-download fallback. Gaussian blur
  (sigma 1.5 px), Sobel derivatives, magnitude scaled to [0, 1],
  orientation `mod(atan2(gy, gx) + pi/2, pi)` (the edge direction, as
  EdgeBoxes expects), then non-maximum suppression of the magnitude
  across the edge so that each edge is one pixel thick.
"""

import os
import warnings

import numpy as np

from keras_deconvnet.images import to_rgb_uint8

EDGE_MODEL_ENV = "KERAS_DECONVNET_EDGE_MODEL"


def _cv2():
    try:
        import cv2
    except ImportError as error:
        raise ImportError(
            "Proposals need OpenCV with the contrib modules: "
            "pip install opencv-contrib-python-headless==5.0.0.93"
        ) from error
    if not hasattr(cv2, "ximgproc"):
        raise ImportError(
            "This OpenCV has no `cv2.ximgproc` (a contrib module). Install "
            "opencv-contrib-python-headless instead of opencv-python."
        )
    return cv2


def _suppress_non_maxima(magnitude, gradient_angle):
    """Keeps pixels not smaller than both neighbours across the edge."""
    # Quantise the gradient direction to 0, 45, 90 or 135 degrees.
    sector = np.round(np.mod(gradient_angle, np.pi) / (np.pi / 4)) % 4
    padded = np.pad(magnitude, 1)
    height, width = magnitude.shape
    offsets = {0: (0, 1), 1: (1, 1), 2: (1, 0), 3: (1, -1)}
    keep = np.zeros(magnitude.shape, dtype=bool)
    for index, (row, column) in offsets.items():
        ahead = padded[1 + row : 1 + row + height, 1 + column : 1 + column + width]
        behind = padded[1 - row : 1 - row + height, 1 - column : 1 - column + width]
        keep |= (sector == index) & (magnitude >= ahead) & (magnitude >= behind)
    return np.where(keep, magnitude, 0).astype(np.float32)


def gradient_edges(image, sigma=1.5):
    """Gradient edge map and orientation map (the no-download fallback).

    Args:
        image: an image accepted by `to_rgb_uint8`.
        sigma: standard deviation of the Gaussian blur, in pixels.

    Returns:
        `(edges, orientation)`: float32 `(H, W)` arrays; edges in [0, 1]
        after non-maximum suppression, orientation in [0, pi).
    """
    cv2 = _cv2()
    image = to_rgb_uint8(image).astype(np.float32) / 255.0
    blurred = cv2.GaussianBlur(image, (0, 0), sigma)
    gradient_y = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)
    gradient_x = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3)
    # Per pixel, the colour channel with the strongest gradient.
    magnitudes = np.hypot(gradient_x, gradient_y)
    strongest = magnitudes.argmax(-1)[..., None]
    magnitude = np.take_along_axis(magnitudes, strongest, -1)[..., 0]
    gradient_y = np.take_along_axis(gradient_y, strongest, -1)[..., 0]
    gradient_x = np.take_along_axis(gradient_x, strongest, -1)[..., 0]
    peak = magnitude.max(initial=0.0)
    if peak > 0:
        magnitude = magnitude / peak
    angle = np.arctan2(gradient_y, gradient_x)
    orientation = np.mod(angle + np.pi / 2, np.pi).astype(np.float32)
    edges = _suppress_non_maxima(magnitude.astype(np.float32), angle)
    return edges, orientation


def resolve_edge_model(edge_model=None):
    """The SED model path: `edge_model`, else `$KERAS_DECONVNET_EDGE_MODEL`.

    Returns `None` when neither is set (use `gradient_edges`).

    Raises:
        FileNotFoundError: the path given does not exist.
    """
    source = "edge_model"
    if edge_model is None:
        edge_model = os.environ.get(EDGE_MODEL_ENV) or None
        source = f"${EDGE_MODEL_ENV}"
    if edge_model is None:
        return None
    edge_model = os.fspath(edge_model)
    if not os.path.isfile(edge_model):
        raise FileNotFoundError(
            f"No structured edge model at '{edge_model}' (from {source}). "
            "It is OpenCV's model.yml.gz; leave it unset to use gradient "
            "edges."
        )
    return edge_model


def edge_map_name(edge_model=None):
    """Which edge map EdgeBoxes uses: `"structured:<file>"` or `"gradient"`.

    Resolved as `propose` does (`edge_model`, else the environment
    variable), for recording beside results.
    """
    path = resolve_edge_model(edge_model)
    return "gradient" if path is None else f"structured:{os.path.basename(path)}"


_warned_gradient_fallback = False


def warn_gradient_fallback():
    """Warns, once per process, that EdgeBoxes runs on gradient edges."""
    global _warned_gradient_fallback
    if _warned_gradient_fallback:
        return
    _warned_gradient_fallback = True
    warnings.warn(
        "EdgeBoxes is running on gradient edges, a fallback that finds "
        "fewer and worse object proposals than the structured edge model "
        "EdgeBoxes was designed for. Pass OpenCV's model.yml.gz with "
        f"--edge-model (edge_model=...) or set ${EDGE_MODEL_ENV}.",
        UserWarning,
        stacklevel=3,
    )


_DETECTORS = {}


def structured_edges(image, model_path):
    """Structured-forest edges with OpenCV's own non-maximum suppression.

    Returns:
        `(edges, orientation)` float32 `(H, W)` arrays.
    """
    cv2 = _cv2()
    if model_path not in _DETECTORS:
        _DETECTORS[model_path] = cv2.ximgproc.createStructuredEdgeDetection(
            model_path
        )
    detector = _DETECTORS[model_path]
    image = to_rgb_uint8(image).astype(np.float32) / 255.0
    edges = detector.detectEdges(image)
    orientation = detector.computeOrientation(edges)
    edges = detector.edgesNms(edges, orientation, 2, 0, 1, True)
    return edges.astype(np.float32), orientation.astype(np.float32)
