"""Instance-wise and tiled inference (TensorFlow only): crops, aggregation,
Segmenter.

Importing `keras_deconvnet` does not import this package; importing this
package imports TensorFlow.
"""

from keras_deconvnet.inference.aggregate import UNCOVERED_SCORE
from keras_deconvnet.inference.aggregate import aggregate
from keras_deconvnet.inference.crops import crop_proposals
from keras_deconvnet.inference.ensemble import ensemble_scores
from keras_deconvnet.inference.ensemble import to_probabilities
from keras_deconvnet.inference.crops import model_input_size
from keras_deconvnet.inference.presets import PIPELINES
from keras_deconvnet.inference.presets import segmenter_from_preset
from keras_deconvnet.inference.segmenter import Segmenter
from keras_deconvnet.inference.tiles import tile_boxes

__all__ = [
    "PIPELINES",
    "UNCOVERED_SCORE",
    "Segmenter",
    "aggregate",
    "crop_proposals",
    "ensemble_scores",
    "model_input_size",
    "segmenter_from_preset",
    "tile_boxes",
    "to_probabilities",
]
