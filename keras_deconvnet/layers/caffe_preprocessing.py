"""VGG/Caffe input normalisation as a layer, so saved models are complete."""

import keras
from keras import ops

# The mean of the authors' DeconvNet/FCN Caffe models, in BGR order.
DECONVNET_BGR_MEAN = (104.008, 116.669, 122.675)


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class CaffePreprocessing(keras.layers.Layer):
    """Turns RGB images in [0, 255] into mean-subtracted BGR, as Caffe did.

    Every model of this package takes plain RGB pixels (float, 0 to 255)
    and normalises them inside the graph, so an exported SavedModel or
    TFLite file needs no preprocessing code on the client.

    Args:
        mean: 3 floats, the per-channel mean in BGR order. Defaults to the
            mean of the authors' DeconvNet Caffe models.
        **kwargs: base layer arguments.

    Input shape:
        `(..., 3)` RGB, float in [0, 255].

    Output shape:
        Same shape, BGR minus `mean`.
    """

    def __init__(self, mean=DECONVNET_BGR_MEAN, **kwargs):
        super().__init__(**kwargs)
        mean = tuple(float(value) for value in mean)
        if len(mean) != 3:
            raise ValueError(
                f"`mean` must have 3 values (B, G, R). Received: mean={mean}"
            )
        self.mean = mean

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != 3:
            raise ValueError(
                f"Layer '{self.name}' expects RGB images with 3 channels. "
                f"Received: input_shape={input_shape}"
            )
        self.built = True

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        bgr = ops.flip(inputs, axis=-1)
        return bgr - ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": self.mean}
