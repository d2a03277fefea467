"""Fully connected CRF (Krahenbuhl and Koltun, NIPS 2011) via pydensecrf2."""

import numpy as np

from keras_deconvnet.images import to_rgb_uint8

# The paper's settings (DeconvNet section 4.3, as in DeepLab-CRF).
GAUSSIAN_SXY = 3
GAUSSIAN_WEIGHT = 3
BILATERAL_SXY = 20
BILATERAL_SRGB = 3
BILATERAL_WEIGHT = 5
NUM_ITERATIONS = 10

# Probabilities are floored here before -log, so that a class the network
# ruled out can still be chosen by the pairwise terms.
MIN_PROBABILITY = 1e-8


def _densecrf():
    try:
        import pydensecrf.densecrf as densecrf
    except ImportError as error:
        raise ImportError(
            "The dense CRF needs pydensecrf2 (imported as `pydensecrf`): "
            "pip install pydensecrf2==1.1 (it compiles from source, about a "
            "minute)."
        ) from error
    return densecrf


def dense_crf(
    image,
    probabilities,
    gaussian_sxy=GAUSSIAN_SXY,
    gaussian_weight=GAUSSIAN_WEIGHT,
    bilateral_sxy=BILATERAL_SXY,
    bilateral_srgb=BILATERAL_SRGB,
    bilateral_weight=BILATERAL_WEIGHT,
    num_iterations=NUM_ITERATIONS,
):
    """Refines per-pixel class probabilities with a dense CRF.

    Unary energy `-log p`; a Gaussian (smoothness) kernel on positions and
    a bilateral (appearance) kernel on positions and RGB colours, each with
    Potts compatibility; mean-field inference. Defaults are the paper's.

    Args:
        image: uint8 RGB `[H, W, 3]` (the colours the bilateral kernel sees;
            grayscale and RGBA are converted).
        probabilities: float `[H, W, C]` class probabilities (e.g. softmax
            scores), each pixel summing to 1.
        gaussian_sxy: spatial standard deviation of the Gaussian kernel, px.
        gaussian_weight: weight of the Gaussian kernel.
        bilateral_sxy: spatial standard deviation of the bilateral kernel.
        bilateral_srgb: colour standard deviation of the bilateral kernel.
        bilateral_weight: weight of the bilateral kernel.
        num_iterations: mean-field iterations.

    Returns:
        float32 `[H, W, C]` marginal probabilities after inference; their
        argmax is the refined label map.

    Raises:
        ValueError: shapes that do not match, or invalid probabilities.

    Example:

    >>> refined = dense_crf(image, softmax(scores))
    >>> labels = refined.argmax(-1)
    """
    densecrf = _densecrf()
    image = to_rgb_uint8(image)
    probabilities = np.asarray(probabilities, np.float32)
    if probabilities.ndim != 3 or probabilities.shape[:2] != image.shape[:2]:
        raise ValueError(
            "`probabilities` must be [H, W, C] with the image's H and W. "
            f"Received: probabilities.shape={probabilities.shape}, "
            f"image.shape={image.shape}"
        )
    if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0:
        raise ValueError(
            "`probabilities` must be finite and non-negative (apply softmax "
            "to raw scores first)."
        )
    if num_iterations < 0:
        raise ValueError(
            f"`num_iterations` must be >= 0. Received: {num_iterations}"
        )
    height, width, num_classes = probabilities.shape
    if height == 0 or width == 0:
        return probabilities.copy()
    unary = -np.log(np.maximum(probabilities, MIN_PROBABILITY))
    unary = np.ascontiguousarray(unary.reshape(-1, num_classes).T)
    crf = densecrf.DenseCRF2D(width, height, num_classes)
    crf.setUnaryEnergy(unary)
    crf.addPairwiseGaussian(sxy=gaussian_sxy, compat=gaussian_weight)
    crf.addPairwiseBilateral(
        sxy=bilateral_sxy,
        srgb=bilateral_srgb,
        rgbim=np.require(image, requirements=["C", "W"]),
        compat=bilateral_weight,
    )
    marginals = np.asarray(crf.inference(num_iterations), np.float32)
    return marginals.T.reshape(height, width, num_classes)
