"""EDeconvNet: combining DeconvNet and FCN-8s scores (TensorFlow only)."""

import tensorflow as tf

ENSEMBLES = ("mean", "product")


def ensemble_scores(deconvnet_scores, fcn_scores, mode="mean"):
    """Combines the per-pixel scores of DeconvNet and FCN-8s.

    Args:
        deconvnet_scores: float `[..., C]` raw DeconvNet scores.
        fcn_scores: float `[..., C]` raw FCN-8s scores, same shape.
        mode: `"mean"` averages the two softmax probability maps (the
            paper, section 4.3); `"product"` multiplies the rectified raw
            scores, `relu(a) * relu(b)` (the authors' released code).

    Returns:
        float32 `[..., C]`: probabilities for `"mean"`, non-negative
        products (not normalised) for `"product"`.

    Raises:
        ValueError: unknown `mode` or mismatched shapes.
    """
    if mode not in ENSEMBLES:
        raise ValueError(
            f"`mode` must be one of {ENSEMBLES}. Received: mode={mode!r}"
        )
    deconvnet_scores = tf.cast(deconvnet_scores, tf.float32)
    fcn_scores = tf.cast(fcn_scores, tf.float32)
    if not deconvnet_scores.shape.is_compatible_with(fcn_scores.shape):
        raise ValueError(
            "DeconvNet and FCN scores must have the same shape. Received: "
            f"{deconvnet_scores.shape} and {fcn_scores.shape}"
        )
    if mode == "mean":
        return 0.5 * (
            tf.nn.softmax(deconvnet_scores) + tf.nn.softmax(fcn_scores)
        )
    return tf.nn.relu(deconvnet_scores) * tf.nn.relu(fcn_scores)


def to_probabilities(scores, kind):
    """Per-pixel probabilities from the output of one inference path.

    Args:
        scores: float `[..., C]`.
        kind: `"raw"` (softmax is applied), `"probabilities"` (returned
            as is) or `"product"` (normalised to sum 1; a pixel whose
            products are all zero becomes background).

    Returns:
        float32 `[..., C]` probabilities.
    """
    scores = tf.cast(scores, tf.float32)
    if kind == "raw":
        return tf.nn.softmax(scores)
    if kind == "probabilities":
        return scores
    if kind == "product":
        total = tf.reduce_sum(scores, axis=-1, keepdims=True)
        background = tf.one_hot(
            tf.zeros(tf.shape(scores)[:-1], tf.int32), tf.shape(scores)[-1]
        )
        return tf.where(total > 0, scores / tf.maximum(total, 1e-30), background)
    raise ValueError(
        "`kind` must be 'raw', 'probabilities' or 'product'. "
        f"Received: kind={kind!r}"
    )
