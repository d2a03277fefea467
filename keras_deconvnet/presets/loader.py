"""`load_preset(name)`: download, convert once, cache, reload.

The first call fetches the preset's files (see `download`), converts them
with `convert_caffe_model` and saves the result as a preset folder
(`config.json`, `model.weights.h5`, `metadata.json`) in
`$KERAS_HOME/keras_deconvnet/<name>/model/`, then deletes the downloaded
`.caffemodel` (its sha256 stays recorded). Later calls open that folder:
no download, no conversion.
"""

import os
import warnings

from keras_deconvnet import model_folder
from keras_deconvnet import model_metadata
from keras_deconvnet.presets import download
from keras_deconvnet.presets.definitions import PRESETS

MODEL_SUBDIR = "model"


def is_preset_name(name):
    """Whether `name` names a preset (and is not an existing path)."""
    return isinstance(name, str) and name in PRESETS and not os.path.exists(
        name
    )


def get_preset(name):
    """The `Preset` called `name`, or a `ValueError` listing them."""
    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset {name!r}; the presets are {sorted(PRESETS)}. "
            f"Received: name={name!r}"
        )
    return PRESETS[name]


def list_presets():
    """The presets, as `{name: description}`.

    Example:

    >>> sorted(keras_deconvnet.list_presets())
    ['deconvnet_voc', 'fcn8s_voc']
    """
    return {name: preset.description for name, preset in PRESETS.items()}


def preset_model_dir(name):
    """Where the converted model of preset `name` is cached."""
    return os.path.join(download.cache_dir(name), MODEL_SUBDIR)


def _check_caffemodel(path):
    from keras_deconvnet.caffe import read_caffemodel

    read_caffemodel(path)


def _check_prototxt(path):
    from keras_deconvnet.caffe import read_prototxt

    read_prototxt(path)


def _local_files(preset, caffemodel, prototxt):
    if caffemodel is None or prototxt is None:
        raise ValueError(
            "Pass both local files, `caffemodel` and `prototxt`. Received: "
            f"caffemodel={caffemodel!r}, prototxt={prototxt!r}"
        )
    files = {}
    for preset_file, path in ((preset.caffemodel, caffemodel),
                              (preset.prototxt, prototxt)):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"No file at '{path}' (the local '{preset_file.name}' of "
                f"preset '{preset.name}')."
            )
        digest = download.sha256(path)
        if preset_file.sha256 and digest != preset_file.sha256:
            raise ValueError(
                f"'{path}' has sha256 {digest}, but the preset's "
                f"'{preset_file.name}' has {preset_file.sha256}."
            )
        files[preset_file.name] = (path, os.path.abspath(path), digest)
    return files


def _cached_model(preset, files):
    """The cached model, if any and (with local files) of the same files."""
    directory = preset_model_dir(preset.name)
    if not model_folder.is_model_folder(directory):
        return None
    model = model_folder.load_model_folder(directory)
    if files is not None:
        recorded = model_metadata.metadata(model).get("preset", {}).get(
            "files", {}
        )
        if any(recorded.get(name, {}).get("sha256") != digest
               for name, (_, _, digest) in files.items()):
            return None
    return model


def _convert(preset, files):
    from keras_deconvnet.caffe import convert_caffe_model

    caffemodel = files[preset.caffemodel.name][0]
    prototxt = files[preset.prototxt.name][0]
    print(f"Converting preset '{preset.name}' (once; the result is cached "
          f"in '{preset_model_dir(preset.name)}').")
    model = convert_caffe_model(
        caffemodel, prototxt, architecture=preset.architecture,
        progress=True,
    )
    return model_metadata.set_metadata(
        model,
        source="preset",
        dataset=preset.dataset,
        class_names=list(preset.class_names),
        ignore_label=preset.ignore_label,
        caffe={"architecture": preset.architecture,
               "caffemodel": preset.caffemodel.name,
               "prototxt": preset.prototxt.name},
        preset={
            "name": preset.name,
            "description": preset.description,
            "published_miou": preset.published_miou,
            "reference": preset.reference,
            "files": {name: {"url": origin, "sha256": digest}
                      for name, (_, origin, digest) in files.items()},
        },
    )


def load_preset(name, caffemodel=None, prototxt=None, record=True):
    """Returns a preset's Keras model, converting it on first use.

    Args:
        name: a preset name (`list_presets()`).
        caffemodel: a local copy of the preset's `.caffemodel`, used
            instead of the download (with `prototxt`, or neither); the
            converted model is cached as with downloads.
        prototxt: a local copy of the preset's deploy `.prototxt`.
        record: for DeconvNet presets, make the model the one that
            `keras_deconvnet.load()` without arguments opens
            (`saved_models/latest.json`).

    Returns:
        The `SegmentationModel`, with the preset's metadata (VOC class
        names, ignore label 255, URLs and sha256 of the source files).

    Raises:
        ValueError: an unknown name, a bad local file, or a download that
            stays unusable (checksum mismatch, truncated file).
        ConnectionError: offline: the message names the URL, the cache
            folder and the local-file alternative.
    """
    preset = get_preset(name)
    local = caffemodel is not None or prototxt is not None
    files = _local_files(preset, caffemodel, prototxt) if local else None
    model = _cached_model(preset, files)
    if model is None:
        if files is None:
            files = {}
            for preset_file, check in ((preset.prototxt, _check_prototxt),
                                       (preset.caffemodel, _check_caffemodel)):
                path, url, digest = download.fetch(preset, preset_file, check)
                files[preset_file.name] = (path, url, digest)
        model = _convert(preset, files)
        model_folder.save_preset(model, preset_model_dir(preset.name))
        if not local:
            # Converted: the 0.5-1 GB download is no longer needed.
            os.remove(files[preset.caffemodel.name][0])
    if record and preset.architecture == "deconvnet":
        from keras_deconvnet.saving import record_latest

        try:
            record_latest(preset_model_dir(preset.name), "preset")
        except OSError as error:
            warnings.warn(f"Could not record the preset as the default "
                          f"model of load(): {error}", stacklevel=2)
    return model
