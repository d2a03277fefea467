"""The class of highest score at every pixel, as a layer."""

import keras
from keras import ops

# The label dtypes on offer; `None` picks the smaller one that fits.
LABEL_DTYPES = ("uint8", "int32")


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class ScoresToLabels(keras.layers.Layer):
    """The class of highest score at every pixel.

    Ties go to the lowest class index, as in `numpy.argmax`, so the labels
    equal `np.argmax(model.predict(x), axis=-1)` of the scores model.

    Args:
        label_dtype: `"uint8"` (at most 256 classes) or `"int32"`;
            `None` (default): `"uint8"` where the classes fit, else
            `"int32"`.
        **kwargs: base layer arguments (`name`, ...).

    Input shape:
        `(batch, height, width, classes)` scores.

    Output shape:
        `(batch, height, width)` labels of `label_dtype`.
    """

    def __init__(self, label_dtype=None, **kwargs):
        super().__init__(**kwargs)
        if label_dtype is not None and label_dtype not in LABEL_DTYPES:
            raise ValueError(
                f"`label_dtype` must be None or one of {LABEL_DTYPES}. "
                f"Received: label_dtype={label_dtype!r}"
            )
        self.label_dtype = label_dtype

    def _output_dtype(self, num_classes):
        if self.label_dtype == "uint8" and num_classes is not None \
                and num_classes > 256:
            raise ValueError(
                f"Layer '{self.name}': {num_classes} classes do not fit in "
                "uint8 labels; use label_dtype='int32'. Received: "
                f"label_dtype={self.label_dtype!r}"
            )
        if self.label_dtype is not None:
            return self.label_dtype
        return "uint8" if num_classes is not None and num_classes <= 256 \
            else "int32"

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"Layer '{self.name}' expects scores of rank 4 (batch, "
                "height, width, classes). "
                f"Received: input_shape={input_shape}"
            )
        self._dtype_of_labels = self._output_dtype(input_shape[-1])
        self.built = True

    def call(self, scores):
        return ops.cast(ops.argmax(scores, axis=-1), self._dtype_of_labels)

    def compute_output_spec(self, scores):
        return keras.KerasTensor(
            tuple(scores.shape[:-1]),
            dtype=self._output_dtype(scores.shape[-1]),
        )

    def get_config(self):
        return {**super().get_config(), "label_dtype": self.label_dtype}
