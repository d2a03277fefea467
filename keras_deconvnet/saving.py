"""`load()`: open a model saved by this package, a preset folder or a preset.

`load()` without a path is deterministic: it opens the model recorded in
`saved_models/latest.json` (or `$KERAS_DECONVNET_MODELS/latest.json`).
That pointer is written, after the model is completely saved, by a
finished training run (`training/train.py`), by `convert-caffe` and by a
DeconvNet preset call (`load("deconvnet_voc")`,
`DeconvNet(weights="pascal_voc")`). A run that is still going or that died
never writes it. FCN-8s models are EDeconvNet partners and never become
the default.
"""

import datetime
import glob
import json
import os
import warnings

import keras

# Importing the layers and models registers them for deserialisation.
import keras_deconvnet.layers  # noqa: F401
import keras_deconvnet.models  # noqa: F401
from keras_deconvnet import model_folder

MODEL_SUFFIXES = (".keras", ".h5")
LATEST_FILE = "latest.json"
RECORD_KINDS = ("training", "conversion", "preset")


def default_model_dir():
    """Where `load()` looks when given no path.

    `$KERAS_DECONVNET_MODELS` if set, else `saved_models/` in the current
    directory.
    """
    return os.environ.get("KERAS_DECONVNET_MODELS", "saved_models")


def record_latest(path, kind, directory=None):
    """Makes `path` the model that `load()` without arguments opens.

    Written atomically (a temporary file renamed), after the model itself
    is complete. A path inside `directory` is stored relative to it, so
    the folder can be moved.

    Args:
        path: a `.keras` file or a model folder.
        kind: `"training"`, `"conversion"` or `"preset"`.
        directory: where the pointer goes; default `default_model_dir()`.

    Returns:
        The pointer file's path.
    """
    if kind not in RECORD_KINDS:
        raise ValueError(
            f"`kind` must be one of {RECORD_KINDS}. Received: kind={kind!r}"
        )
    directory = default_model_dir() if directory is None else directory
    os.makedirs(directory, exist_ok=True)
    target = os.path.abspath(path)
    relative = os.path.relpath(target, os.path.abspath(directory))
    stored = target if relative.startswith(os.pardir) else relative
    pointer = os.path.join(directory, LATEST_FILE)
    temporary = f"{pointer}.{os.getpid()}.tmp"
    with open(temporary, "w") as file:
        json.dump({
            "path": stored,
            "kind": kind,
            "recorded_at": datetime.datetime.now().isoformat(timespec="seconds"),
        }, file, indent=1)
    os.replace(temporary, pointer)
    return pointer


def save_and_record(model, path, kind, record=True, **fields):
    """Attaches metadata, saves `model` as `.keras` and records it.

    Args:
        model: the model to save.
        path: the `.keras` file.
        kind: `"training"` or `"conversion"` (see `record_latest`).
        record: whether `load()` without arguments should open it.
        **fields: metadata fields (`keras_deconvnet.set_metadata`).

    Returns:
        The saved model (with its metadata).
    """
    from keras_deconvnet.model_metadata import set_metadata

    model = set_metadata(model, **fields)
    model.save(path)
    if record:
        record_latest(path, kind)
    return model


def recorded_model(directory):
    """The model `directory/latest.json` points to, or None if none."""
    pointer = os.path.join(directory, LATEST_FILE)
    if not os.path.isfile(pointer):
        return None
    try:
        with open(pointer) as file:
            stored = json.load(file)["path"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"'{pointer}' is not a model pointer ({error}). Delete it, or "
            "pass the model's path to load()."
        ) from None
    target = os.path.join(directory, stored)
    if not os.path.exists(target):
        raise FileNotFoundError(
            f"'{pointer}' points to '{target}', which no longer exists. "
            "Pass a model's path to load(), or train, convert or load a "
            "preset again to record a new one."
        )
    return target


def newest_model_file(directory):
    """Returns the most recently written model file under `directory`.

    Files under a `checkpoint` folder (runs in progress) are skipped.
    """
    candidates = [
        path
        for suffix in MODEL_SUFFIXES
        for path in glob.glob(
            os.path.join(directory, "**", f"*{suffix}"), recursive=True
        )
        if not path.endswith(".weights.h5")
        and "checkpoint" not in path.split(os.sep)
    ]
    if not candidates:
        raise FileNotFoundError(
            f"No saved model (*.keras or *.h5) was found under "
            f"'{os.path.abspath(directory)}'. Train or save one first "
            "(`make demo` writes one), or pass the path to load()."
        )
    return max(candidates, key=os.path.getmtime)


def _resolve_directory(path):
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise ValueError(
            f"'{path}' is a TensorFlow SavedModel (an export for "
            "serving), not a Keras model. Load the .keras file it was "
            "exported from, or use keras.layers.TFSMLayer for inference."
        )
    if model_folder.is_model_folder(path):
        return path
    recorded = recorded_model(path)
    if recorded is not None:
        return recorded
    newest = newest_model_file(path)
    warnings.warn(
        f"'{path}' has no {LATEST_FILE} (written by training, convert-caffe "
        f"and presets): loading the newest model file, '{newest}'.",
        stacklevel=3,
    )
    return newest


def load(path=None, compile=False, **preset_options):
    """Loads a model saved by keras_deconvnet, in Keras safe mode.

    Args:
        path: one of
            - `None`: the model recorded in `saved_models/latest.json`
              (or `$KERAS_DECONVNET_MODELS`), see the module docstring;
            - a preset name, e.g. `"deconvnet_voc"` (see `list_presets()`):
              downloaded and converted on first use, then cached;
            - a `.keras` (or legacy `.h5`) file;
            - a preset folder (`config.json`, `model.weights.h5`,
              `metadata.json`, see `save_preset`);
            - another folder: the model its `latest.json` records, else the
              newest model file under it (with a warning).
        compile: whether to restore the training configuration too
            (`.keras` files only).
        **preset_options: with a preset name: `caffemodel=` and
            `prototxt=` local files instead of downloads.

    Returns:
        The `keras.Model`, carrying its metadata (`keras_deconvnet.metadata`).

    Raises:
        FileNotFoundError: `path` does not exist, or a folder holds no
            model.
        ValueError: the file is not a Keras model this package can read,
            or preset options without a preset name.
        ConnectionError: a preset's files cannot be downloaded.

    Example:

    >>> model = keras_deconvnet.load("saved_models/deconvnet.keras")
    >>> model = keras_deconvnet.load("deconvnet_voc")
    """
    from keras_deconvnet.presets import is_preset_name
    from keras_deconvnet.presets import load_preset

    if path is None:
        path = _resolve_directory(default_model_dir())
    path = os.fspath(path)
    if is_preset_name(path):
        return load_preset(path, **preset_options)
    if preset_options:
        raise ValueError(
            f"{sorted(preset_options)} are options of preset names, and "
            f"'{path}' is not one. Received: path={path!r}"
        )
    if os.path.isdir(path):
        path = _resolve_directory(path)
    elif not os.path.exists(path):
        raise FileNotFoundError(
            f"No model file at '{path}' (looked for a .keras or .h5 file, "
            "a model folder or a directory containing one, or a preset "
            "name: see keras_deconvnet.list_presets())."
        )
    try:
        if os.path.isdir(path):
            return model_folder.load_model_folder(path)
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"Could not load a Keras model from '{path}': "
            f"{type(error).__name__}: {error}"
        ) from error
