"""Instance-wise inference (TensorFlow only): crops, aggregation, Segmenter.

Importing `keras_deconvnet` does not import this package; importing this
package imports TensorFlow.
"""

from keras_deconvnet.inference.aggregate import UNCOVERED_SCORE
from keras_deconvnet.inference.aggregate import aggregate
from keras_deconvnet.inference.crops import crop_proposals

__all__ = ["UNCOVERED_SCORE", "aggregate", "crop_proposals"]
