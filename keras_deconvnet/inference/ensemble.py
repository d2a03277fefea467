"""EDeconvNet: combining DeconvNet and FCN-8s scores (TensorFlow only)."""

import tensorflow as tf

ENSEMBLES = ("mean", "product")
# Where FCN-8s looks: the whole image resized to its input (the paper), or
# the tiles of tiled inference, averaged like DeconvNet's.
FCN_MODES = ("whole", "tiles")
SCORE_KINDS = ("raw", "probabilities", "product")


def ensemble_scores(
    deconvnet_scores,
    fcn_scores,
    mode="mean",
    covered=None,
    deconvnet_kind="raw",
    fcn_kind="raw",
):
    """Combines the per-pixel scores of DeconvNet and FCN-8s.

    Where `covered` is false (no DeconvNet box looked at the pixel) the
    FCN alone decides: its probabilities for `"mean"`, its rectified raw
    scores for `"product"`. Otherwise an object that every proposal
    missed would stay background whatever the FCN sees.

    Args:
        deconvnet_scores: float `[..., C]` DeconvNet scores.
        fcn_scores: float `[..., C]` raw FCN-8s scores, same shape.
        mode: `"mean"` averages the two softmax probability maps (the
            paper, section 4.3); `"product"` multiplies the rectified raw
            scores, `relu(a) * relu(b)` (the authors' released code), or,
            when DeconvNet gives probabilities, the two probabilities.
        covered: optional bool or count `[...]`, where DeconvNet looked
            (e.g. the coverage of `aggregate`); `None` means everywhere.
        deconvnet_kind: `"raw"` scores or `"probabilities"` (the output
            of `aggregate(..., mode="mean")`, e.g. tiled inference).
        fcn_kind: the same for `fcn_scores` (`"probabilities"` when the
            FCN ran on tiles).

    Returns:
        float32 `[..., C]`: probabilities for `"mean"`, non-negative
        products (not normalised) for `"product"`.

    Raises:
        ValueError: unknown `mode`, `deconvnet_kind` or `fcn_kind`,
            mismatched shapes.
    """
    if mode not in ENSEMBLES:
        raise ValueError(
            f"`mode` must be one of {ENSEMBLES}. Received: mode={mode!r}"
        )
    for name, kind in (("deconvnet_kind", deconvnet_kind),
                       ("fcn_kind", fcn_kind)):
        if kind not in ("raw", "probabilities"):
            raise ValueError(f"`{name}` must be 'raw' or 'probabilities'. "
                             f"Received: {name}={kind!r}")
    deconvnet_scores = tf.cast(deconvnet_scores, tf.float32)
    fcn_scores = tf.cast(fcn_scores, tf.float32)
    if not deconvnet_scores.shape.is_compatible_with(fcn_scores.shape):
        raise ValueError(
            "DeconvNet and FCN scores must have the same shape. Received: "
            f"{deconvnet_scores.shape} and {fcn_scores.shape}"
        )
    raw = deconvnet_kind == "raw"
    fcn_raw = fcn_kind == "raw"
    if mode == "mean":
        deconvnet = tf.nn.softmax(deconvnet_scores) if raw else deconvnet_scores
        fcn = tf.nn.softmax(fcn_scores) if fcn_raw else fcn_scores
        combined = 0.5 * (deconvnet + fcn)
    else:
        deconvnet = tf.nn.relu(deconvnet_scores) if raw else deconvnet_scores
        if not fcn_raw:
            fcn = fcn_scores
        else:
            fcn = tf.nn.relu(fcn_scores) if raw else tf.nn.softmax(fcn_scores)
        combined = deconvnet * fcn
    if covered is None:
        return combined
    covered = tf.cast(covered, tf.float32)[..., None] > 0
    return tf.where(covered, combined, fcn)


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
        f"`kind` must be one of {SCORE_KINDS}. Received: kind={kind!r}"
    )
