import numpy as np
import pytest

pytest.importorskip("tensorflow")

from keras_deconvnet.inference import ensemble_scores  # noqa: E402
from keras_deconvnet.inference import to_probabilities  # noqa: E402


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_mean_averages_softmax_probabilities(rng):
    a = rng.normal(size=(5, 6, 4)).astype(np.float32)
    b = rng.normal(size=(5, 6, 4)).astype(np.float32) * 3
    result = ensemble_scores(a, b, "mean").numpy()
    np.testing.assert_allclose(result, (softmax(a) + softmax(b)) / 2, atol=1e-6)
    np.testing.assert_allclose(result.sum(-1), 1.0, atol=1e-5)


def test_product_multiplies_rectified_scores():
    a = np.array([[2.0, -1.0, 3.0], [-1.0, -2.0, 0.5]], np.float32)
    b = np.array([[4.0, 5.0, -3.0], [2.0, 1.0, 0.0]], np.float32)
    result = ensemble_scores(a, b, "product").numpy()
    np.testing.assert_allclose(result, [[8.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    # The second pixel has no positive product: background.
    probabilities = to_probabilities(result, "product").numpy()
    np.testing.assert_allclose(probabilities, [[1, 0, 0], [1, 0, 0]])


def test_the_two_modes_can_disagree():
    # DeconvNet is confident about class 1, FCN mildly prefers class 2.
    deconvnet = np.array([[0.0, 6.0, 5.0]], np.float32)
    fcn = np.array([[0.0, 1.0, 1.5]], np.float32)
    assert ensemble_scores(deconvnet, fcn, "mean").numpy().argmax() == 1
    assert ensemble_scores(deconvnet, fcn, "product").numpy().argmax() == 2


def test_to_probabilities_and_errors(rng):
    raw = rng.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(to_probabilities(raw, "raw"), softmax(raw), atol=1e-6)
    np.testing.assert_array_equal(to_probabilities(raw, "probabilities"), raw)
    with pytest.raises(ValueError, match="kind"):
        to_probabilities(raw, "logits")
    with pytest.raises(ValueError, match="mode"):
        ensemble_scores(raw, raw, "max")
    with pytest.raises(ValueError, match="same shape"):
        ensemble_scores(raw, raw[:2], "mean")
    with pytest.raises(ValueError, match="fcn_kind"):
        ensemble_scores(raw, raw, "mean", fcn_kind="logits")


def test_fcn_probabilities_are_used_as_given(rng):
    deconvnet = rng.normal(size=(3, 4)).astype(np.float32)
    fcn = softmax(rng.normal(size=(3, 4))).astype(np.float32)
    np.testing.assert_allclose(
        ensemble_scores(deconvnet, fcn, "mean", fcn_kind="probabilities"),
        0.5 * (softmax(deconvnet) + fcn), atol=1e-6)
    np.testing.assert_allclose(
        ensemble_scores(softmax(deconvnet), fcn, "product",
                        deconvnet_kind="probabilities",
                        fcn_kind="probabilities"),
        softmax(deconvnet) * fcn, atol=1e-6)
    # Raw DeconvNet scores are rectified, as in the authors' product.
    np.testing.assert_allclose(
        ensemble_scores(deconvnet, fcn, "product", fcn_kind="probabilities"),
        np.maximum(deconvnet, 0) * fcn, atol=1e-6)
