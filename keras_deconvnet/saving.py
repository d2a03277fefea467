"""`load()`: open a model saved by this package."""

import glob
import os

import keras

# Importing the layers registers them for deserialisation.
import keras_deconvnet.layers  # noqa: F401
import keras_deconvnet.models  # noqa: F401

MODEL_SUFFIXES = (".keras", ".h5")


def default_model_dir():
    """Where `load()` looks when given no path.

    `$KERAS_DECONVNET_MODELS` if set, else `saved_models/` in the current
    directory.
    """
    return os.environ.get("KERAS_DECONVNET_MODELS", "saved_models")


def newest_model_file(directory):
    """Returns the most recently written model file under `directory`."""
    candidates = [
        path
        for suffix in MODEL_SUFFIXES
        for path in glob.glob(
            os.path.join(directory, "**", f"*{suffix}"), recursive=True
        )
        if not path.endswith(".weights.h5")
    ]
    if not candidates:
        raise FileNotFoundError(
            f"No saved model (*.keras or *.h5) was found under "
            f"'{os.path.abspath(directory)}'. Train or save one first "
            "(`make demo` writes one), or pass the path to load()."
        )
    return max(candidates, key=os.path.getmtime)


def load(path=None, compile=False):
    """Loads a model saved by keras_deconvnet, in Keras safe mode.

    Args:
        path: a `.keras` (or legacy `.h5`) file, or a directory: the newest
            model file under it is loaded. `None` means the newest model
            under `saved_models/` (or `$KERAS_DECONVNET_MODELS`).
        compile: whether to restore the training configuration too.

    Returns:
        The `keras.Model`.

    Raises:
        FileNotFoundError: `path` does not exist, or a directory holds no
            model file.
        ValueError: the file is not a Keras model this package can read.

    Example:

    >>> model = keras_deconvnet.load("saved_models/deconvnet.keras")
    >>> scores = model.predict(images)
    """
    if path is None:
        path = default_model_dir()
    path = os.fspath(path)
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ValueError(
                f"'{path}' is a TensorFlow SavedModel (an export for "
                "serving), not a Keras model. Load the .keras file it was "
                "exported from, or use keras.layers.TFSMLayer for inference."
            )
        path = newest_model_file(path)
    elif not os.path.exists(path):
        raise FileNotFoundError(
            f"No model file at '{path}' (looked for a .keras or .h5 file "
            "or a directory containing one)."
        )
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"Could not load a Keras model from '{path}': "
            f"{type(error).__name__}: {error}"
        ) from error
