"""keras-deconvnet: DeconvNet (Noh, Hong and Han, ICCV 2015) for Keras 3.

The layers and models use `keras.ops` only and run on the TensorFlow, JAX
and PyTorch backends. Modules that need TensorFlow (tf.data pipelines,
in-graph aggregation, export) import it lazily, when they are used.

The names below are imported on first use, so `import keras_deconvnet`
(and the `keras-deconvnet --help` command line) does not start Keras or
TensorFlow until a model is needed.
"""

import importlib

__version__ = "0.1.0"

# Public name -> module that defines it (a module maps to itself).
_LAZY = {
    "layers": "keras_deconvnet.layers",
    "models": "keras_deconvnet.models",
    "DeconvNet": "keras_deconvnet.models",
    "FCN8s": "keras_deconvnet.models",
    "SegmentationModel": "keras_deconvnet.models",
    "load": "keras_deconvnet.saving",
    "metadata": "keras_deconvnet.model_metadata",
    "set_metadata": "keras_deconvnet.model_metadata",
    "class_names_for": "keras_deconvnet.model_metadata",
    "save_preset": "keras_deconvnet.model_folder",
    "list_presets": "keras_deconvnet.presets",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(
            f"module 'keras_deconvnet' has no attribute '{name}'"
        )
    module = importlib.import_module(_LAZY[name])
    value = module if module.__name__.endswith(f".{name}") else getattr(
        module, name
    )
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return __all__
