import numpy as np
import pytest

pytest.importorskip("pydensecrf.densecrf")

from keras_deconvnet.crf import dense_crf  # noqa: E402


def noisy_case(rng, height=48, width=64, noise=0.3):
    """A red/blue image split at column 30, and noisy probabilities."""
    truth = np.zeros((height, width), np.int64)
    truth[:, 30:] = 1
    image = np.zeros((height, width, 3), np.uint8)
    image[truth == 0] = (200, 30, 30)
    image[truth == 1] = (30, 30, 200)
    flipped = rng.random((height, width)) < noise
    noisy = np.where(flipped, 1 - truth, truth)
    # Weakly confident unaries: 0.6 for the (noisy) label.
    probabilities = np.where(noisy[..., None] == np.arange(2), 0.6, 0.4)
    return image, probabilities.astype(np.float32), truth, noisy


def test_crf_cleans_noise_along_a_colour_edge(rng):
    image, probabilities, truth, noisy = noisy_case(rng)
    before = np.mean(noisy == truth)
    refined = dense_crf(image, probabilities)
    after = np.mean(refined.argmax(-1) == truth)
    assert refined.shape == probabilities.shape and refined.dtype == np.float32
    np.testing.assert_allclose(refined.sum(-1), 1.0, atol=1e-4)
    assert before < 0.75
    assert after > 0.98 and after > before + 0.2


def test_zero_iterations_return_the_unary_softmax(rng):
    image, probabilities, _, _ = noisy_case(rng, 8, 10)
    # With no mean-field step, Q is the softmax of -unary = normalised p.
    refined = dense_crf(image, probabilities, num_iterations=0)
    np.testing.assert_allclose(refined, probabilities, atol=1e-5)


def test_crf_rejects_mismatched_or_raw_scores(rng):
    image, probabilities, _, _ = noisy_case(rng, 8, 10)
    with pytest.raises(ValueError, match="probabilities.shape"):
        dense_crf(image, probabilities[:4])
    with pytest.raises(ValueError, match="softmax"):
        dense_crf(image, probabilities - 1)


def test_crf_accepts_read_only_images(rng):
    image, probabilities, _, _ = noisy_case(rng, 8, 10)
    image.setflags(write=False)
    assert dense_crf(image, probabilities).shape == probabilities.shape
