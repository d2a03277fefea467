"""Export for TF-Serving (SavedModel) and LiteRT (TFLite); TensorFlow only.

Importing `keras_deconvnet` does not import this package; importing this
package imports TensorFlow.

Example:

>>> from keras_deconvnet.export import export_saved_model, export_tflite
>>> export_saved_model(model, "saved_models/deconvnet")   # -> ".../1"
>>> export_tflite(model, "saved_models/deconvnet.tflite", quantize="int8")
"""

from keras_deconvnet.export.saved_model import SIGNATURES
from keras_deconvnet.export.saved_model import export_saved_model
from keras_deconvnet.export.tflite import QUANTIZE_MODES
from keras_deconvnet.export.tflite import export_tflite
from keras_deconvnet.export.tflite import tflite_operators

__all__ = [
    "QUANTIZE_MODES",
    "SIGNATURES",
    "export_saved_model",
    "export_tflite",
    "tflite_operators",
]
