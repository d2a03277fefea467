"""keras-deconvnet: DeconvNet (Noh, Hong and Han, ICCV 2015) for Keras 3.

The layers and models use `keras.ops` only and run on the TensorFlow, JAX
and PyTorch backends. Modules that need TensorFlow (tf.data pipelines,
in-graph aggregation, export) import it lazily, when they are used.
"""

__version__ = "0.1.0"

from keras_deconvnet import layers
from keras_deconvnet import models
from keras_deconvnet.models import DeconvNet
from keras_deconvnet.models import FCN8s
from keras_deconvnet.saving import load

__all__ = ["DeconvNet", "FCN8s", "layers", "load", "models", "__version__"]
