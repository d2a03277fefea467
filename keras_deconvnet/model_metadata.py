"""What a model knows about itself: class names, ignore label, origin.

`metadata(model)` returns a dict with these keys:

- `class_names`: one name per output channel;
- `num_classes`, `input_size` (`[height, width]`, `None` for any size):
  read from the model itself;
- `ignore_label`: the label the training data marks as void, or None;
- `palette`: one `[r, g, b]` colour per class (the VOC colour map unless
  set);
- `dataset`: the dataset it was trained on, e.g. `"voc"`, or None;
- `source`: `"training"`, `"caffe"`, `"preset"` or `"unknown"`;
- where recorded: `training` (the training configuration), `caffe` (the
  converted files) or `preset` (preset name, URLs, sha256 of downloads).

The metadata lives in `SegmentationModel`'s config (see that class for
why), so it survives `model.save()` / `keras_deconvnet.load()` and preset
folders, and `export_saved_model` exposes the class names to TF-Serving.
Models without stored metadata (older files, other Keras models) get
defaults from their output shape: 21 classes are PASCAL VOC (ignore 255),
11 classes CamVid (ignore 11), others `class_0` ... (no ignore label).
"""

import warnings

import numpy as np

from keras_deconvnet import palette as palette_module
from keras_deconvnet.models.segmentation_model import SegmentationModel
from keras_deconvnet.tile_settings import check_tile_overlap
from keras_deconvnet.tile_settings import check_tile_scales

SOURCES = ("training", "caffe", "preset", "unknown")
SETTABLE_FIELDS = (
    "class_names", "palette", "ignore_label", "dataset", "source",
    "training", "caffe", "preset", "tile_scale", "tile_overlap",
)


def _single(shape):
    return shape[0] if isinstance(shape, list) else shape


def model_num_classes(model):
    """The channel count of the model's (first) output."""
    return int(_single(model.output_shape)[-1])


def model_input_size(model):
    """`[height, width]` of the model's input; `None` for any size."""
    shape = _single(model.input_shape)
    return [None if size is None else int(size) for size in shape[1:3]]


def default_class_names(num_classes):
    """VOC's 21 names, CamVid's 11, or `class_0` ... for other counts."""
    if num_classes == len(palette_module.VOC_CLASSES):
        return palette_module.VOC_CLASSES
    if num_classes == len(palette_module.CAMVID_CLASSES):
        return palette_module.CAMVID_CLASSES
    return palette_module.generic_class_names(num_classes)


def default_ignore_label(num_classes):
    """255 for VOC's 21 classes, 11 for CamVid's 11, otherwise None."""
    if num_classes == len(palette_module.VOC_CLASSES):
        return palette_module.VOC_IGNORE_LABEL
    if num_classes == len(palette_module.CAMVID_CLASSES):
        return palette_module.CAMVID_VOID_LABEL
    return None


def json_safe(value):
    """`value` with tuples, NumPy values and other objects made JSON."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def stored_metadata(model):
    """Only the fields recorded in `model` (empty for plain models)."""
    if isinstance(model, SegmentationModel):
        return model.stored_metadata
    return {}


def metadata(model):
    """The metadata of `model` as a new dict (see the module docstring).

    Args:
        model: a Keras model from this package (or any segmentation model
            with `[..., C]` outputs).

    Returns:
        dict with at least `class_names`, `num_classes`, `ignore_label`,
        `input_size`, `palette`, `dataset` and `source`.

    Example:

    >>> keras_deconvnet.metadata(keras_deconvnet.load())["class_names"][:3]
    ['background', 'aeroplane', 'bicycle']
    """
    num_classes = model_num_classes(model)
    result = {
        "class_names": list(default_class_names(num_classes)),
        "ignore_label": default_ignore_label(num_classes),
        "palette": palette_module.voc_palette(max(num_classes, 1))[
            :num_classes].tolist(),
        "dataset": None,
        "source": "unknown",
    }
    result.update(stored_metadata(model))
    result.update(num_classes=num_classes, input_size=model_input_size(model))
    return result


def check_tile_settings(tile_scale=None, tile_overlap=None):
    """Raises `ValueError` for tiled-inference settings a model cannot keep.

    The rules are tiled inference's own (`tile_settings.py`): a positive
    scale or a list of them, an overlap in [0, 1); `None` leaves a setting
    unset.
    """
    if tile_scale is not None:
        check_tile_scales(tile_scale)
    if tile_overlap is not None:
        check_tile_overlap(tile_overlap)


def _check_fields(model, fields):
    unknown = sorted(set(fields) - set(SETTABLE_FIELDS))
    if unknown:
        raise ValueError(
            f"Unknown metadata fields {unknown}; the fields are "
            f"{SETTABLE_FIELDS}. Received: {unknown[0]}={fields[unknown[0]]!r}"
        )
    num_classes = model_num_classes(model)
    names = fields.get("class_names")
    if names is not None and (
        isinstance(names, str) or len(names) != num_classes
        or not all(isinstance(name, str) and name for name in names)
    ):
        raise ValueError(
            f"`class_names` must be {num_classes} non-empty strings, one per "
            f"output channel of '{model.name}'. Received: class_names={names!r}"
        )
    colours = fields.get("palette")
    if colours is not None:
        array = np.asarray(colours)
        if (array.ndim != 2 or array.shape[1] != 3
                or array.shape[0] < num_classes
                or array.min() < 0 or array.max() > 255):
            raise ValueError(
                f"`palette` must be at least {num_classes} [r, g, b] colours "
                f"in [0, 255]. Received: palette of shape {array.shape}"
            )
    ignore = fields.get("ignore_label")
    if ignore is not None and (
        isinstance(ignore, bool) or not isinstance(ignore, (int, np.integer))
        or 0 <= ignore < num_classes
    ):
        raise ValueError(
            f"`ignore_label` must be None or an int outside [0, {num_classes})."
            f" Received: ignore_label={ignore!r}"
        )
    check_tile_settings(fields.get("tile_scale"), fields.get("tile_overlap"))
    if fields.get("source", "unknown") not in SOURCES:
        raise ValueError(
            f"`source` must be one of {SOURCES}. "
            f"Received: source={fields['source']!r}"
        )


def set_metadata(model, **fields):
    """Records metadata fields in a model; returns the model carrying them.

    A `SegmentationModel` (what every builder, `load()` of a new file,
    training, conversion and presets give) is updated in place and
    returned. Any other functional model is wrapped in a new
    `SegmentationModel` over the same layers (weights shared, compile
    state not carried), which is returned: always use the return value.

    Args:
        model: a functional Keras model.
        **fields: any of `class_names`, `palette`, `ignore_label`,
            `dataset`, `source`, `training`, `caffe`, `preset`, and the
            tiled-inference settings that suit the model, `tile_scale`
            (a scale or a list) and `tile_overlap` (used by `Segmenter`
            and `evaluate.py --mode tiles` when not given). A value of
            None removes the field (its default applies again).

    Returns:
        The `SegmentationModel` with the metadata.

    Raises:
        ValueError: an unknown field, or a value that does not fit the
            model (e.g. 10 class names for 11 output channels).

    Example:

    >>> model = keras_deconvnet.set_metadata(model, class_names=names,
    ...                                      ignore_label=11, dataset="camvid")
    """
    _check_fields(model, fields)
    stored = stored_metadata(model)
    for key, value in json_safe(fields).items():
        if value is None:
            stored.pop(key, None)
        else:
            stored[key] = value
    if not isinstance(model, SegmentationModel):
        model = SegmentationModel(model.input, model.output, name=model.name)
    model.stored_metadata = stored
    return model


def class_names_for(model, source=None):
    """The names to show for a model's classes.

    The names stored in the model win; then those of `source` (a dataset
    with a `class_names` attribute); then the defaults of `metadata()`.
    """
    names = stored_metadata(model).get("class_names")
    if names is None and source is not None:
        names = getattr(source, "class_names", None)
    if names is None:
        names = metadata(model)["class_names"]
    return tuple(names)


def training_metadata(config):
    """The metadata fields of a model trained with `config` (train's args).

    Class names come from `config["class_names"]` when given, else from
    the dataset (`keras_deconvnet.data.class_names.dataset_class_names`).
    """
    # Lazy: `keras_deconvnet.data` is not imported by `keras_deconvnet`.
    from keras_deconvnet.data.class_names import dataset_class_names

    config = json_safe(dict(config))
    num_classes = config.get("num_classes")
    names = None
    try:
        if num_classes:
            names = list(dataset_class_names(
                config.get("dataset"), num_classes,
                class_names=config.get("class_names"),
                data_dir=config.get("data_dir"),
                image_dir=config.get("image_dir"),
                label_dir=config.get("label_dir"),
                ignore_label=config.get("ignore_label"),
            ))
    except (OSError, ValueError) as error:
        # Called after training: a bad name list must not lose the run.
        warnings.warn(f"Saving without class names: {error}", stacklevel=2)
    fields = {
        "source": "training",
        "dataset": config.get("dataset"),
        "class_names": names,
        "ignore_label": config.get("ignore_label"),
        "training": config,
    }
    # Tiled-inference settings chosen for the recipe (`train(tile_scale=)`).
    for key in ("tile_scale", "tile_overlap"):
        if config.get(key) is not None:
            fields[key] = config[key]
    return fields
