"""A model as a shareable folder, in keras-hub's preset layout.

    DIRECTORY/config.json        the model (`keras.saving.serialize_keras_object`)
    DIRECTORY/model.weights.h5   its weights (`model.save_weights`)
    DIRECTORY/metadata.json      versions, parameter count, date, and the
                                 model's metadata (class names, ...)

The layout is keras-hub's (`Backbone.save_to_preset`), so a folder can be
published as is (e.g. on Kaggle or Hugging Face) and opened with
`keras_deconvnet.load(DIRECTORY)`. `metadata.json` repeats the metadata of
`config.json` in plain JSON so that tools without Keras can read the
class names. The converted presets are cached in this layout.
"""

import datetime
import json
import os
import shutil
import tempfile

import keras

from keras_deconvnet import model_metadata

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"


def is_model_folder(directory):
    """Whether `directory` holds a model in this layout."""
    return all(
        os.path.isfile(os.path.join(directory, name))
        for name in (CONFIG_FILE, WEIGHTS_FILE)
    )


def save_preset(model, directory):
    """Saves `model` as a preset folder: config, weights and metadata.

    The folder is written under a temporary name next to `directory` and
    renamed when complete, so an interrupted save never leaves a folder
    that looks like a model. An existing model folder is replaced.

    Args:
        model: a functional Keras model (its metadata is saved with it).
        directory: the folder to write.

    Returns:
        `directory`.

    Raises:
        ValueError: `directory` exists and is not a model folder (it is
            not overwritten).

    Example:

    >>> keras_deconvnet.save_preset(model, "my_camvid_deconvnet")
    >>> model = keras_deconvnet.load("my_camvid_deconvnet")
    """
    from keras_deconvnet import __version__

    directory = os.fspath(directory)
    if os.path.exists(directory) and not (
        is_model_folder(directory) or not os.listdir(directory)
    ):
        raise ValueError(
            f"'{directory}' exists and is not a model folder ({CONFIG_FILE}, "
            f"{WEIGHTS_FILE}); not overwriting it. Received: "
            f"directory={directory!r}"
        )
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".preset-", dir=parent)
    try:
        config = keras.saving.serialize_keras_object(model)
        with open(os.path.join(staging, CONFIG_FILE), "w") as file:
            json.dump(config, file, indent=1)
        model.save_weights(os.path.join(staging, WEIGHTS_FILE))
        info = {
            "keras_version": keras.__version__,
            "keras_deconvnet_version": __version__,
            "parameter_count": int(model.count_params()),
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            **model_metadata.metadata(model),
        }
        with open(os.path.join(staging, METADATA_FILE), "w") as file:
            json.dump(info, file, indent=1)
        if os.path.exists(directory):
            shutil.rmtree(directory)
        os.rename(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def load_model_folder(directory):
    """Opens a folder written by `save_preset`, in Keras safe mode."""
    with open(os.path.join(directory, CONFIG_FILE)) as file:
        config = json.load(file)
    model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    model.load_weights(os.path.join(directory, WEIGHTS_FILE))
    metadata_path = os.path.join(directory, METADATA_FILE)
    if not model_metadata.stored_metadata(model) and os.path.isfile(
        metadata_path
    ):
        # A folder written from a plain Keras model: metadata.json only.
        with open(metadata_path) as file:
            info = json.load(file)
        model = model_metadata.set_metadata(model, **{
            key: info[key] for key in model_metadata.SETTABLE_FIELDS
            if info.get(key) is not None
        })
    return model
