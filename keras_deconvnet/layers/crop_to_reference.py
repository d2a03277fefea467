"""Crops a feature map to the spatial size of another (FCN's Crop layer)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class CropToReference(keras.layers.Layer):
    """Crops `inputs` to the height and width of `reference`.

    FCN-8s (Long, Shelhamer and Darrell, CVPR 2015) upsamples coarse scores
    and crops them to the finer map before fusing; this is Caffe's `Crop`
    layer with an explicit `offset`. Works with dynamic sizes.

    Args:
        offset: int or tuple of 2 ints, the top-left corner of the crop.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, height, width, channels)`, at least as large as
            `reference` plus `offset`.
        reference: `(batch, ref_height, ref_width, any)`.

    Output shape:
        `(batch, ref_height, ref_width, channels)`.
    """

    def __init__(self, offset=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(offset, int):
            offset = (offset, offset)
        offset = tuple(int(value) for value in offset)
        if len(offset) != 2 or min(offset) < 0:
            raise ValueError(
                "`offset` must be a non-negative int or 2 of them. "
                f"Received: offset={offset}"
            )
        self.offset = offset

    def build(self, inputs_shape, reference_shape):
        self.built = True

    def call(self, inputs, reference):
        reference_shape = ops.shape(reference)
        top, left = self.offset
        return inputs[
            :,
            top : top + reference_shape[1],
            left : left + reference_shape[2],
            :,
        ]

    def compute_output_shape(self, inputs_shape, reference_shape):
        return (
            inputs_shape[0],
            reference_shape[1],
            reference_shape[2],
            inputs_shape[3],
        )

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}
