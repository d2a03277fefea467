"""`SegmentationModel`: a functional Keras model that carries its metadata.

Why a functional subclass (as keras-hub's `Backbone` is a `keras.Model`
subclass) rather than a marker layer or an extra file in the `.keras`
archive:

- the metadata is part of the model's own `get_config()`, so every Keras
  path keeps it without help from this package: `model.save()` and
  `keras.saving.load_model()`, `keras.saving.serialize_keras_object()`
  (the `config.json` of a preset folder) and `from_config()`;
- the graph is untouched: no extra layer, no extra op, so TFLite and
  SavedModel exports, `clone_model` and the JAX and PyTorch backends see
  exactly the network they saw before;
- `__init__(*args, metadata=None, **kwargs)` keeps Keras' functional
  constructor signature, so Keras serialises it as a functional model
  (layers, nodes) plus one `metadata` entry.

Files saved before this class existed load as plain functional models;
`keras_deconvnet.metadata()` derives their metadata from the output shape.
"""

import json

import keras


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class SegmentationModel(keras.Model):
    """A functional `keras.Model` plus a JSON-serialisable metadata dict.

    Build it like `keras.Model(inputs, outputs, name=...)`; read and write
    the metadata with `keras_deconvnet.metadata()` and
    `keras_deconvnet.set_metadata()`.

    Args:
        *args: `inputs, outputs` as for a functional `keras.Model`.
        metadata: dict of JSON values (class names, ignore label, ...).
        **kwargs: `name`, `trainable`, as for `keras.Model`.

    Example:

    >>> inputs = keras.Input((224, 224, 3))
    >>> outputs = keras.layers.Conv2D(2, 1)(inputs)
    >>> model = SegmentationModel(inputs, outputs,
    ...                           metadata={"class_names": ["sky", "road"]})
    """

    def __init__(self, *args, metadata=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.stored_metadata = metadata

    @property
    def stored_metadata(self):
        """A copy of the metadata stored in this model (may be empty)."""
        return json.loads(self._metadata_json)

    @stored_metadata.setter
    def stored_metadata(self, value):
        if value is not None and not isinstance(value, dict):
            raise ValueError(
                f"`metadata` must be a dict or None. Received: metadata={value!r}"
            )
        # Kept as a JSON string: Keras does not track strings, and the
        # metadata is checked to be serialisable when it is set.
        self._metadata_json = json.dumps(value or {}, sort_keys=True)

    def get_config(self):
        config = super().get_config()
        config["metadata"] = self.stored_metadata
        return config
