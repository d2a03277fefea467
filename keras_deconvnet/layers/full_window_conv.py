"""Convolutions whose window covers their whole input: fc6, fc7, fc6-deconv.

DeconvNet's fully connected layers are convolutions: fc6 is a 7x7 valid
convolution of the 7x7 pool5 map, fc7 a 1x1 convolution of fc6's 1x1
output, and fc6-deconv the 7x7 transposed convolution back from 1x1. At
the paper's 224x224 input each is one matrix product, and computing it as
such is much faster than as a convolution: on a 2-core Xeon (AMX, batch
8, float32) fc6 took 164 ms as `Conv2D` and 35 ms as a matrix product,
fc7 33 ms against 5, fc6-deconv 180 ms against 42 (PyTorch's
`ConvTranspose2d` took 250 ms there); with bfloat16 weights fc6-deconv
went from 150 to 10 ms (`python benchmarks/full_window_conv.py`).
Convolution kernels are tuned for many output positions; with one, the
work is a matrix product that is bound by reading the weights (411 MB
for fc6 in float32).

The layers below are `Conv2D` and `Conv2DTranspose` with the same
arguments, weights and results; they take the matrix product when the
input's static shape allows it and are plain convolutions otherwise
(larger inputs, strides, dilation). Being subclasses, everything that
handles convolutions (BN folding, Caffe import, export) handles them.
"""

import keras
from keras import ops


def _plain_geometry(layer):
    """Strides and dilation 1, channels last: the cases rewritten here."""
    return (layer.data_format == "channels_last"
            and tuple(layer.strides) == (1, 1)
            and tuple(layer.dilation_rate) == (1, 1))


def window_covers_input(layer, spatial_shape):
    """True when a convolution's one output position sees all its input."""
    kernel = tuple(layer.kernel_size)
    spatial_shape = tuple(spatial_shape)
    if not _plain_geometry(layer) or None in spatial_shape:
        return False
    if spatial_shape == kernel and layer.padding == "valid":
        return True
    # A 1x1 kernel on a 1x1 input: "same" and "valid" agree.
    return kernel == (1, 1) and spatial_shape == (1, 1)


def expands_single_position(layer, spatial_shape):
    """True when a transposed convolution spreads one position over its
    whole kernel (the output is the kernel's size)."""
    return (_plain_geometry(layer) and layer.output_padding is None
            and tuple(spatial_shape) == (1, 1)
            and (layer.padding == "valid"
                 or tuple(layer.kernel_size) == (1, 1)))


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class FullWindowConv2D(keras.layers.Conv2D):
    """`Conv2D` that is a matrix product when its window covers the input.

    Same arguments, weights and outputs as `keras.layers.Conv2D`. When the
    input's height and width equal `kernel_size` with `padding="valid"`
    (or kernel and input are both 1x1), strides and dilation 1, and
    `data_format="channels_last"`, the output has one position and is
    computed as `inputs.reshape(batch, -1) @ kernel.reshape(-1, filters)`;
    otherwise as a convolution.

    Example:

    >>> fc6 = FullWindowConv2D(4096, 7, padding="valid")
    >>> fc6(np.zeros((2, 7, 7, 512), "float32")).shape  # one matmul
    (2, 1, 1, 4096)
    """

    def convolution_op(self, inputs, kernel):
        if not window_covers_input(self, inputs.shape[1:3]):
            return super().convolution_op(inputs, kernel)
        flat_inputs = ops.reshape(inputs, (-1, inputs.shape[1]
                                           * inputs.shape[2]
                                           * inputs.shape[3]))
        # (kh, kw, in, out) flattens in the order the inputs do (h, w, c).
        flat_kernel = ops.reshape(kernel, (-1, self.filters))
        outputs = ops.matmul(flat_inputs, flat_kernel)
        return ops.reshape(outputs, (-1, 1, 1, self.filters))


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class FullWindowConv2DTranspose(keras.layers.Conv2DTranspose):
    """`Conv2DTranspose` that is a matrix product from a 1x1 input.

    Same arguments, weights and outputs as `keras.layers.Conv2DTranspose`.
    When the input is 1x1 with `padding="valid"` (or a 1x1 kernel), strides
    and dilation 1, no `output_padding` and `data_format="channels_last"`,
    every output position `(i, j)` is `inputs @ kernel[i, j].T`: one
    matrix product computes them all. Otherwise a transposed convolution.

    Example:

    >>> fc6_deconv = FullWindowConv2DTranspose(512, 7, padding="valid")
    >>> fc6_deconv(np.zeros((2, 1, 1, 4096), "float32")).shape
    (2, 7, 7, 512)
    """

    def call(self, inputs):
        if not expands_single_position(self, inputs.shape[1:3]):
            return super().call(inputs)
        height, width = self.kernel_size
        # Kernel (kh, kw, out, in): output (i, j, o) = sum_c x_c k[i, j, o, c].
        # kernel @ inputs.T reads the kernel as stored; inputs @ kernel.T
        # was 40% slower for fc6-deconv on oneDNN (31 against 44 ms).
        flat_kernel = ops.reshape(self.kernel, (-1, self.kernel.shape[-1]))
        flat_inputs = ops.reshape(inputs, (-1, inputs.shape[-1]))
        outputs = ops.matmul(flat_kernel, ops.transpose(flat_inputs))
        outputs = ops.reshape(ops.transpose(outputs),
                              (-1, height, width, self.filters))
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, -1)))
        if self.activation is not None:
            return self.activation(outputs)
        return outputs
