"""`Segmenter`: the paper's instance-wise inference (TensorFlow only)."""

import time

import keras
import numpy as np
import tensorflow as tf

from keras_deconvnet import proposals as proposals_module
from keras_deconvnet.inference.aggregate import AGGREGATIONS
from keras_deconvnet.inference.aggregate import aggregate
from keras_deconvnet.inference.crops import crop_proposals
from keras_deconvnet.inference.ensemble import ENSEMBLES
from keras_deconvnet.inference.ensemble import ensemble_scores
from keras_deconvnet.inference.ensemble import to_probabilities
from keras_deconvnet.layers import pooling_jit_compile
from keras_deconvnet.proposals.edges import to_rgb_uint8

MODES = ("proposals", "whole")


def model_input_size(model, default=224):
    """The square crop size a model expects (its input height)."""
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    return int(shape[1]) if shape[1] is not None else default


class Segmenter:
    """Semantic segmentation of whole images with a DeconvNet.

    `mode="proposals"` (the paper): EdgeBoxes proposals, the paper's
    selection (shorter side >= `min_side`, top `num_proposals`, extended by
    `margin`), each box cropped and resized to the model's input size
    (zero outside the image), batched forward passes in inference mode,
    and the score maps projected back and aggregated per pixel (`max` or
    `sum`, see `aggregate`). When no proposal passes the selection (small
    images) the whole image is the one box. `mode="whole"` resizes the
    whole image to the input size, runs the model once and resizes the
    scores back (the same code path with the single box `[0, 0, H, W]`).

    With `fcn` (an FCN-8s run on the whole image at its own size), the
    result is EDeconvNet (`ensemble="mean"` or `"product"`, see
    `ensemble_scores`); with `crf=True` the dense CRF refines it.

    Args:
        model: a Keras model from `[B, S, S, 3]` RGB in [0, 255] to raw
            scores `[B, S, S, C]`.
        num_proposals: proposals kept per image (50 in the paper).
        batch_size: crops per forward pass.
        aggregation: `"max"` (paper default) or `"sum"`.
        fcn: optional FCN-8s Keras model for EDeconvNet.
        ensemble: `"mean"` or `"product"`, used with `fcn`.
        crf: whether to refine with `keras_deconvnet.crf.dense_crf`.
        mode: `"proposals"` or `"whole"`.
        min_side: minimum shorter side of a proposal in pixels.
        margin: proposal extension, see `proposals.extend_boxes`.
        max_candidates: EdgeBoxes candidates before selection.
        edge_model: optional structured edge model file for EdgeBoxes.
        crf_options: keyword arguments for `dense_crf`.

    Example:

    >>> segmenter = Segmenter(keras_deconvnet.load(), crf=True)
    >>> labels = segmenter.segment(image)  # int32 [H, W]
    """

    def __init__(
        self,
        model,
        num_proposals=50,
        batch_size=16,
        aggregation="max",
        fcn=None,
        ensemble="mean",
        crf=False,
        mode="proposals",
        min_side=112,
        margin=0.1,
        max_candidates=2000,
        edge_model=None,
        crf_options=None,
    ):
        checks = (
            ("aggregation", aggregation, tuple(AGGREGATIONS)),
            ("ensemble", ensemble, ENSEMBLES),
            ("mode", mode, MODES),
        )
        for name, value, allowed in checks:
            if value not in allowed:
                raise ValueError(
                    f"`{name}` must be one of {allowed}. "
                    f"Received: {name}={value!r}"
                )
        for name, value in (
            ("num_proposals", num_proposals),
            ("batch_size", batch_size),
        ):
            if int(value) < 1:
                raise ValueError(
                    f"`{name}` must be >= 1. Received: {name}={value}"
                )
        self.model = model
        self.num_proposals = int(num_proposals)
        self.batch_size = int(batch_size)
        self.aggregation = aggregation
        self.fcn = fcn
        self.ensemble = ensemble
        self.crf = crf
        self.mode = mode
        self.min_side = min_side
        self.margin = margin
        self.max_candidates = max_candidates
        self.edge_model = edge_model
        self.crf_options = dict(crf_options or {})
        self.crop_size = model_input_size(model)
        # Seconds spent in each stage of the last `scores()` call.
        self.last_timings = {}

    def proposals(self, image):
        """The boxes `[K, 4]` (`[y1, x1, y2, x2]`, pixels) used for `image`."""
        image = to_rgb_uint8(image)
        height, width = image.shape[:2]
        whole = np.array([[0, 0, height, width]], np.float32)
        if self.mode == "whole":
            return whole
        boxes, scores = proposals_module.propose(
            image, max_boxes=self.max_candidates, edge_model=self.edge_model
        )
        boxes, _ = proposals_module.select_proposals(
            boxes,
            scores,
            (height, width),
            min_side=self.min_side,
            top_k=self.num_proposals,
            margin=self.margin,
        )
        return boxes if len(boxes) else whole

    def _forward(self, crops):
        outputs = []
        # Other backends (JAX, PyTorch) take NumPy, not TensorFlow tensors.
        if keras.backend.backend() != "tensorflow":
            crops = crops.numpy()
        for start in range(0, int(crops.shape[0]), self.batch_size):
            batch = crops[start : start + self.batch_size]
            # The compiled predict function (a graph on TensorFlow, jit on
            # JAX), in inference mode: eager calls were 1.6x slower.
            with pooling_jit_compile(self.model, True):
                scores = self.model.predict_on_batch(batch)
            outputs.append(tf.cast(keras.ops.convert_to_numpy(scores), tf.float32))
        return tf.concat(outputs, axis=0)

    def _fcn_scores(self, image):
        """FCN-8s raw scores `[H, W, C]` for the whole image."""
        height, width = image.shape[:2]
        shape = self.fcn.input_shape
        if shape[1] is None and shape[2] is None:
            scores = self.fcn(image[None].astype(np.float32), training=False)
            return keras.ops.convert_to_numpy(scores)[0]
        # A fixed-size FCN sees the image resized, as in whole mode.
        whole = np.array([[0, 0, height, width]], np.float32)
        crops = crop_proposals(image, whole, model_input_size(self.fcn))
        scores = tf.cast(
            keras.ops.convert_to_numpy(self.fcn(crops, training=False)),
            tf.float32,
        )
        return aggregate(scores, whole, (height, width), mode="sum").numpy()

    def deconvnet_scores(self, image, boxes=None):
        """Aggregated raw DeconvNet scores `[H, W, C]` (no ensemble, no CRF)."""
        image = to_rgb_uint8(image)
        if min(image.shape[:2]) == 0:
            raise ValueError(
                f"The image is empty. Received: image.shape={image.shape}"
            )
        started = time.perf_counter()
        if boxes is None:
            boxes = self.proposals(image)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        timings = {"proposals": time.perf_counter() - started}
        started = time.perf_counter()
        crops = crop_proposals(image, boxes, self.crop_size)
        score_maps = self._forward(crops)
        timings["crops_and_forward"] = time.perf_counter() - started
        started = time.perf_counter()
        scores = aggregate(
            score_maps, boxes, image.shape[:2], mode=self.aggregation
        ).numpy()
        timings["aggregation"] = time.perf_counter() - started
        self.last_timings = {**timings, "num_boxes": len(boxes)}
        return scores

    def scores(self, image, boxes=None):
        """Per-pixel class scores `[H, W, C]` whose argmax is the label.

        Raw aggregated scores without `fcn` and `crf`; probabilities with
        `ensemble="mean"` or with `crf=True`; rectified-score products with
        `ensemble="product"` and no CRF.

        Args:
            image: uint8 RGB `[H, W, 3]` (grayscale/RGBA are converted).
            boxes: optional boxes to use instead of `proposals(image)`.
        """
        image = to_rgb_uint8(image)
        scores = self.deconvnet_scores(image, boxes)
        timings = dict(self.last_timings)
        kind = "raw"
        if self.fcn is not None:
            started = time.perf_counter()
            fcn_scores = self._fcn_scores(image)
            scores = ensemble_scores(scores, fcn_scores, self.ensemble).numpy()
            kind = "probabilities" if self.ensemble == "mean" else "product"
            timings["fcn"] = time.perf_counter() - started
        if self.crf:
            from keras_deconvnet.crf import dense_crf

            started = time.perf_counter()
            probabilities = to_probabilities(scores, kind).numpy()
            scores = dense_crf(image, probabilities, **self.crf_options)
            timings["crf"] = time.perf_counter() - started
        self.last_timings = timings
        return np.asarray(scores, np.float32)

    def segment(self, image, boxes=None):
        """The label map, int32 `[H, W]` (argmax of `scores`)."""
        return self.scores(image, boxes).argmax(-1).astype(np.int32)

    @classmethod
    def from_preset(cls, name, **overrides):
        """The paper's pipeline `name`, e.g. `"edeconvnet_crf_voc"` (72.5
        published mIoU): see `keras_deconvnet.inference.presets`."""
        from keras_deconvnet.inference.presets import segmenter_from_preset

        return segmenter_from_preset(name, segmenter_class=cls, **overrides)
