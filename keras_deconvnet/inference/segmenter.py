"""`Segmenter`: the paper's instance-wise inference (TensorFlow only)."""

import time

import keras
import numpy as np
import tensorflow as tf

from keras_deconvnet import proposals as proposals_module
from keras_deconvnet.images import to_rgb_uint8
from keras_deconvnet.inference import tiles
from keras_deconvnet.inference.aggregate import AGGREGATIONS
from keras_deconvnet.inference.aggregate import aggregate
from keras_deconvnet.inference.crops import crop_proposals
from keras_deconvnet.inference.crops import model_input_size
from keras_deconvnet.inference.ensemble import ENSEMBLES
from keras_deconvnet.inference.ensemble import FCN_MODES
from keras_deconvnet.inference.ensemble import ensemble_scores
from keras_deconvnet.inference.ensemble import to_probabilities
from keras_deconvnet.inference.forward import compiled_forward
from keras_deconvnet.inference.forward import with_precision
from keras_deconvnet.models.inference_model import optimize_for_inference
from keras_deconvnet.model_metadata import stored_metadata

MODES = ("proposals", "whole", "tiles")
# Overlapping tiles average probabilities (see `aggregate`); proposals
# take the paper's max.
DEFAULT_AGGREGATION = {"proposals": "max", "whole": "max", "tiles": "mean"}


class Segmenter:
    """Semantic segmentation of whole images with a DeconvNet.

    Every mode crops boxes of the image, resizes them to the model's input
    size (RGB 0 outside the image), runs the network on them in batches
    in inference mode, and projects the score maps back (`aggregate`):

    - `mode="proposals"` (the paper): EdgeBoxes proposals, the paper's
      selection (shorter side >= `min_side`, top `num_proposals`,
      extended by `margin`), max aggregation. When no proposal passes
      the selection (small images) the whole image is the one box.
    - `mode="tiles"`: a regular grid of overlapping square windows
      (`tiles.tile_boxes`) at each `tile_scale`, the windows' softmax
      probabilities averaged where they overlap, then over the scales.
    - `mode="whole"`: the single box `[0, 0, H, W]`: the image resized to
      the input size, the scores resized back.

    With `fcn` (an FCN-8s run on the whole image at its own size, or with
    `fcn_mode="tiles"` on the tiles of `tile_scale` and `tile_overlap`),
    the result is EDeconvNet (`ensemble="mean"` or `"product"`, see
    `ensemble_scores`); the FCN alone decides where no box looked. With
    `crf=True` the dense CRF refines the result; without an FCN its unary
    is flat (all classes equally likely) where no box looked.

    The network runs through the segmenter's own compiled function, with
    the (un)pooling layers as XLA clusters on TensorFlow; the model itself
    (its `predict` and its layers' `jit_compile`) is left as it was.

    Args:
        model: a Keras model from `[B, S, S, 3]` RGB in [0, 255] to raw
            scores `[B, S, S, C]`.
        num_proposals: proposals kept per image (50 in the paper).
        batch_size: crops per forward pass.
        aggregation: `"max"`, `"sum"` or `"mean"` (see `aggregate`);
            `None`: `"mean"` for tiles, `"max"` otherwise.
        fcn: optional FCN-8s Keras model for EDeconvNet.
        ensemble: `"mean"` or `"product"`, used with `fcn`.
        fcn_mode: `"whole"` (the paper: the image resized to the FCN's
            input) or `"tiles"` (the FCN's softmax probabilities averaged
            over the tiles, as DeconvNet's in tiled mode). On CamVid val
            a from-scratch FCN-8s scored 47.0 mIoU on tiles against 43.0
            whole (docs/camvid.md).
        crf: whether to refine with `keras_deconvnet.crf.dense_crf`.
        mode: `"proposals"`, `"tiles"` or `"whole"`.
        min_side: minimum shorter side of a proposal in pixels.
        margin: proposal extension, see `data.boxes.extend_boxes`.
        max_candidates: EdgeBoxes candidates before selection.
        edge_model: optional structured edge model file for EdgeBoxes.
        crf_options: keyword arguments for `dense_crf`.
        tile_scale: tiles: one scale or several (see `tiles.tile_boxes`).
            `None`: the model's own (`keras_deconvnet.metadata(model)`,
            set by training with `tile_scale`), else 1.0.
        tile_overlap: tiles: overlap fraction of neighbouring windows.
            `None`: the model's own, else 0.25.
        precision: `"float32"` or `"bfloat16"`: the network (not the
            FCN) runs a bfloat16 twin with the same weights, BN folded
            (`forward.with_precision`): 2.7x faster than float32 on a
            2-core Xeon with AMX (paper network, batch 8). Use it on CPUs
            with AMX or AVX-512 BF16 (`forward.cpu_bf16_support()`).
        optimize: float32: run a copy of the model through
            `models.optimize_for_inference` (BN folded, on a CPU Winograd
            3x3 convolutions; the same scores up to float rounding). It
            pays over many images, not for one: XLA compiles the Winograd
            clusters on the first batch of each shape. Paper network,
            tiles of 500x375 images, 2-core Xeon: the copy took 8 s and
            the first image 13.7 s against 3.3 s, later images 1.22
            against 1.48 s (`benchmarks/segmenter_optimize.py`), so it
            paid after about 70 images there. Like the bfloat16 twin, the
            copy does not follow later changes of the model's weights.

    Example:

    >>> segmenter = Segmenter(keras_deconvnet.load(), crf=True)
    >>> labels = segmenter.segment(image)  # int32 [H, W]
    """

    def __init__(
        self,
        model,
        num_proposals=50,
        batch_size=16,
        aggregation=None,
        fcn=None,
        ensemble="mean",
        fcn_mode="whole",
        crf=False,
        mode="proposals",
        min_side=112,
        margin=0.1,
        max_candidates=2000,
        edge_model=None,
        crf_options=None,
        tile_scale=None,
        tile_overlap=None,
        precision="float32",
        optimize=False,
    ):
        if mode not in MODES:
            raise ValueError(
                f"`mode` must be one of {MODES}. Received: mode={mode!r}"
            )
        if aggregation is None:
            aggregation = DEFAULT_AGGREGATION[mode]
        for name, value, allowed in (
            ("aggregation", aggregation, tuple(AGGREGATIONS)),
            ("ensemble", ensemble, ENSEMBLES),
            ("fcn_mode", fcn_mode, FCN_MODES),
        ):
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
        self.fcn_mode = fcn_mode
        self.crf = crf
        self.mode = mode
        self.min_side = min_side
        self.margin = margin
        self.max_candidates = max_candidates
        self.edge_model = edge_model
        self.crf_options = dict(crf_options or {})
        # The settings the model was trained to be tiled with, unless told
        # (metadata never holds None: unsetting a field removes it).
        stored = stored_metadata(model)
        if tile_scale is None:
            tile_scale = stored.get("tile_scale", tiles.DEFAULT_TILE_SCALE)
        if tile_overlap is None:
            tile_overlap = stored.get("tile_overlap",
                                      tiles.DEFAULT_TILE_OVERLAP)
        self.tile_scale = tiles.check_tile_scales(tile_scale)
        self.tile_overlap = tiles.check_tile_overlap(tile_overlap)
        self.crop_size = model_input_size(model)
        self.precision = precision
        self.optimize = bool(optimize)
        network = with_precision(model, precision)
        if optimize and network is model:
            network = optimize_for_inference(model)
        self._forward_batch = compiled_forward(network)
        # Seconds spent in each stage of the last `scores()` call.
        self.last_timings = {}
        # The boxes `[K, 4]` of the last `scores()` call.
        self.last_boxes = np.zeros((0, 4), np.float32)

    def proposals(self, image):
        """The boxes `[K, 4]` (`[y1, x1, y2, x2]`, pixels) used for `image`."""
        return np.concatenate(self._box_groups(to_rgb_uint8(image)))

    def _box_groups(self, image):
        """Boxes per group; each group is aggregated on its own."""
        height, width = image.shape[:2]
        whole = np.array([[0, 0, height, width]], np.float32)
        if self.mode == "whole":
            return [whole]
        if self.mode == "tiles":
            return tiles.tile_boxes(
                image.shape, self.crop_size, self.tile_scale, self.tile_overlap
            )
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
        return [boxes if len(boxes) else whole]

    def _forward(self, crops):
        outputs = []
        for start in range(0, int(crops.shape[0]), self.batch_size):
            batch = crops[start : start + self.batch_size]
            outputs.append(tf.cast(self._forward_batch(batch), tf.float32))
        return tf.concat(outputs, axis=0)

    def _fcn_scores(self, image):
        """`(scores, kind)` of FCN-8s on `image`: raw scores `[H, W, C]`
        for the whole image, or tile-averaged probabilities."""
        shape = self.fcn.input_shape
        if self.fcn_mode == "whole" and shape[1] is None and shape[2] is None:
            scores = self.fcn(image[None].astype(np.float32), training=False)
            return keras.ops.convert_to_numpy(scores)[0], "raw"
        size = (self.crop_size if shape[1] is None or shape[2] is None
                else model_input_size(self.fcn))
        if self.fcn_mode == "tiles":
            groups = tiles.tile_boxes(
                image.shape, size, self.tile_scale, self.tile_overlap)
        else:
            # A fixed-size FCN sees the image resized, as in whole mode.
            groups = [np.array([[0, 0, *image.shape[:2]]], np.float32)]
        maps = []
        for group in groups:
            crops = crop_proposals(image, group, size)
            scores = tf.concat([
                tf.cast(keras.ops.convert_to_numpy(self.fcn(
                    crops[start:start + self.batch_size], training=False)),
                    tf.float32)
                for start in range(0, int(crops.shape[0]), self.batch_size)
            ], axis=0)
            mode = "mean" if self.fcn_mode == "tiles" else "sum"
            maps.append(aggregate(scores, group, image.shape[:2],
                                  mode=mode).numpy())
        kind = "probabilities" if self.fcn_mode == "tiles" else "raw"
        return np.mean(maps, axis=0), kind

    def _deconvnet(self, image, boxes):
        """`(scores, coverage, kind)` of DeconvNet on an RGB uint8 image."""
        if min(image.shape[:2]) == 0:
            raise ValueError(
                f"The image is empty. Received: image.shape={image.shape}"
            )
        started = time.perf_counter()
        if boxes is None:
            groups = self._box_groups(image)
        else:
            groups = [np.asarray(boxes, np.float32).reshape(-1, 4)]
        timings = {"proposals": time.perf_counter() - started}
        timings["crops_and_forward"] = timings["aggregation"] = 0.0
        kind = "probabilities" if self.aggregation == "mean" else "raw"
        maps, coverage = [], 0
        for group in groups:
            started = time.perf_counter()
            score_maps = self._forward(
                crop_proposals(image, group, self.crop_size)
            )
            timings["crops_and_forward"] += time.perf_counter() - started
            started = time.perf_counter()
            scores, counts = aggregate(
                score_maps,
                group,
                image.shape[:2],
                mode=self.aggregation,
                return_coverage=True,
            )
            timings["aggregation"] += time.perf_counter() - started
            maps.append(scores.numpy())
            coverage = coverage + counts.numpy()
        if len(maps) > 1:
            # Several scales: the mean of their probability maps.
            maps = [to_probabilities(map_, kind).numpy() for map_ in maps]
            kind = "probabilities"
        self.last_boxes = np.concatenate(groups)
        self.last_timings = {**timings, "num_boxes": len(self.last_boxes)}
        return np.mean(maps, axis=0), coverage, kind

    def deconvnet_scores(self, image, boxes=None):
        """Aggregated DeconvNet scores `[H, W, C]` (no ensemble, no CRF).

        Raw scores, or probabilities with `aggregation="mean"` (tiles).
        """
        return self._deconvnet(to_rgb_uint8(image), boxes)[0]

    def scores(self, image, boxes=None):
        """Per-pixel class scores `[H, W, C]` whose argmax is the label.

        Raw aggregated scores without `fcn` and `crf` (probabilities with
        `aggregation="mean"`); probabilities with `ensemble="mean"` or
        with `crf=True`; rectified-score products with
        `ensemble="product"` and no CRF.

        Args:
            image: uint8 RGB `[H, W, 3]` (grayscale/RGBA are converted).
            boxes: optional boxes to use instead of `proposals(image)`;
                they are aggregated together, as one scale.
        """
        image = to_rgb_uint8(image)
        scores, coverage, kind = self._deconvnet(image, boxes)
        timings = dict(self.last_timings)
        if self.fcn is not None:
            started = time.perf_counter()
            fcn_scores, fcn_kind = self._fcn_scores(image)
            scores = ensemble_scores(
                scores, fcn_scores, self.ensemble, coverage, kind, fcn_kind
            ).numpy()
            kind = "probabilities" if self.ensemble == "mean" else "product"
            timings["fcn"] = time.perf_counter() - started
        if self.crf:
            from keras_deconvnet.crf import dense_crf

            started = time.perf_counter()
            probabilities = to_probabilities(scores, kind).numpy()
            if self.fcn is None:
                # No box looked there: no evidence for any class.
                flat = 1.0 / probabilities.shape[-1]
                probabilities[coverage == 0] = flat
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
