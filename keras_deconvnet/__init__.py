"""keras-deconvnet: DeconvNet (Noh, Hong and Han, ICCV 2015) for Keras 3.

The layers and models use `keras.ops` only and run on the TensorFlow, JAX
and PyTorch backends. Modules that need TensorFlow (tf.data pipelines,
in-graph aggregation, export) import it lazily, when they are used.
"""

__version__ = "0.1.0"

from keras_deconvnet import layers
from keras_deconvnet import models
from keras_deconvnet.model_folder import save_preset
from keras_deconvnet.model_metadata import class_names_for
from keras_deconvnet.model_metadata import metadata
from keras_deconvnet.model_metadata import set_metadata
from keras_deconvnet.models import DeconvNet
from keras_deconvnet.models import FCN8s
from keras_deconvnet.models import SegmentationModel
from keras_deconvnet.presets import list_presets
from keras_deconvnet.saving import load

__all__ = [
    "DeconvNet",
    "FCN8s",
    "SegmentationModel",
    "class_names_for",
    "layers",
    "list_presets",
    "load",
    "metadata",
    "models",
    "save_preset",
    "set_metadata",
    "__version__",
]
