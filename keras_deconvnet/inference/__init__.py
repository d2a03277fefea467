"""Instance-wise inference (TensorFlow only): crops, aggregation, Segmenter.

Importing `keras_deconvnet` does not import this package; importing this
package imports TensorFlow.
"""

from keras_deconvnet.inference.aggregate import UNCOVERED_SCORE
from keras_deconvnet.inference.aggregate import aggregate
from keras_deconvnet.inference.crops import crop_proposals
from keras_deconvnet.inference.ensemble import ensemble_scores
from keras_deconvnet.inference.ensemble import to_probabilities
from keras_deconvnet.inference.presets import PIPELINES
from keras_deconvnet.inference.presets import segmenter_from_preset
from keras_deconvnet.inference.segmenter import Segmenter

__all__ = [
    "PIPELINES",
    "UNCOVERED_SCORE",
    "Segmenter",
    "aggregate",
    "crop_proposals",
    "ensemble_scores",
    "segmenter_from_preset",
    "to_probabilities",
]
