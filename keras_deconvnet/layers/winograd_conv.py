"""3x3 convolutions by Winograd's minimal filtering, for CPU inference.

Winograd F(m x m, 3x3) (Lavin and Gray, "Fast Algorithms for
Convolutional Neural Networks", 2016) computes each m x m output tile
from an (m+2) x (m+2) input tile with (m+2)^2 multiplications per channel
pair instead of 9 m^2: F(4x4, 3x3) does 36 where a direct convolution
does 144. The input and output transforms are additions, and the
multiplications become (m+2)^2 matrix products over the channels.

TensorFlow's CPU convolutions (oneDNN) are direct. The paper network's
3x3 layers on 28x28 and 56x56 inputs with 128 or more channels ran
1.1-1.75x faster this way, each alone, and the whole best-float32
forward 1.19x with its 12 such layers converted (2-core Xeon, AMX, batch
8: `python benchmarks/conv_algorithms.py`, `python
benchmarks/winograd_network.py`). Large layers with few channels
(224x224x64) are faster direct, since the transforms are bound by memory
there.

The transforms are written with `keras.ops`, so they run on every backend;
on TensorFlow the layer runs them, with the bias and activation, as one
XLA cluster (which fuses the transforms around the matrix products).
"""

import keras
from keras import ops

from keras_deconvnet.layers import window_utils

# Input transform B^T, kernel transform G, output transform A^T, with
# interpolation points 0, +-1, (+-2,) infinity.
WINOGRAD_MATRICES = {
    2: (
        [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]],
    ),
    4: (
        [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
         [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
        [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
         [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
         [0, 1, -1, 8, -8, 1]],
    ),
}


def check_tile(tile):
    if tile not in WINOGRAD_MATRICES:
        raise ValueError(
            f"`tile` must be one of {sorted(WINOGRAD_MATRICES)} (the output "
            f"tile of F(tile x tile, 3x3)). Received: tile={tile!r}"
        )


def _combine(parts, coefficients):
    """sum(c * p), skipping zeros and multiplications by one."""
    total = None
    for coefficient, part in zip(coefficients, parts):
        if coefficient == 0:
            continue
        term = part if coefficient == 1 else part * float(coefficient)
        total = term if total is None else total + term
    return total


def winograd_kernel(kernel, tile=4):
    """The transformed kernel `G k G^T` of a 3x3 kernel.

    Args:
        kernel: `(3, 3, in_channels, filters)` tensor.
        tile: output tile size m of F(m x m, 3x3), 2 or 4.

    Returns:
        `((tile + 2) ** 2, in_channels, filters)` tensor, in `kernel`'s
        dtype.
    """
    check_tile(tile)
    g = WINOGRAD_MATRICES[tile][1]
    # Sums of scaled kernel slices rather than an einsum: XLA fuses them
    # into one pass, and the transform runs on every call. For a 512x512
    # kernel the einsum form cost 24 ms per call, this one about 6 ms
    # (ad-hoc timing on a 2-core Xeon, inside the XLA cluster).
    rows = [_combine([kernel[i] for i in range(3)], g[a])
            for a in range(tile + 2)]
    return ops.stack([_combine([row[j] for j in range(3)], g[b])
                      for row in rows for b in range(tile + 2)])


def winograd_conv2d(inputs, transformed_kernel, tile=4):
    """A stride-1 "same" 3x3 convolution of NHWC `inputs` by Winograd.

    Args:
        inputs: `(batch, height, width, in_channels)` with static height
            and width.
        transformed_kernel: `winograd_kernel(kernel, tile)`.
        tile: output tile size m of F(m x m, 3x3), 2 or 4.

    Returns:
        `(batch, height, width, filters)`: what `ops.conv(inputs, kernel,
        padding="same")` computes, up to float rounding.
    """
    check_tile(tile)
    b_t, _, a_t = WINOGRAD_MATRICES[tile]
    size = tile + 2
    height, width, channels = inputs.shape[1:]
    tiles_h, tiles_w = -(-height // tile), -(-width // tile)
    # One pixel of "same" padding on the top and left; on the bottom and
    # right, enough to fill the last tile, which is cropped at the end.
    padded = ops.pad(inputs, [[0, 0], [1, tiles_h * tile - height + 1],
                              [1, tiles_w * tile - width + 1], [0, 0]])
    # Input transform B^T d B, one strided view per tile position: element
    # (i, j) of every input tile, for all tiles at once.
    rows = [padded[:, i:i + tiles_h * tile:tile] for i in range(size)]
    rows = [_combine(rows, b_t[i]) for i in range(size)]
    transformed = []
    for row in rows:
        columns = [row[:, :, j:j + tiles_w * tile:tile] for j in range(size)]
        transformed += [_combine(columns, b_t[j]) for j in range(size)]
    transformed = ops.reshape(ops.stack(transformed),
                              (size * size, -1, channels))
    # The multiplications: one (tiles, in) @ (in, filters) per position.
    products = ops.matmul(transformed, transformed_kernel)
    products = ops.reshape(products, (size, size, -1, tiles_h, tiles_w,
                                      transformed_kernel.shape[-1]))
    # Output transform A^T M A, again per position.
    out_rows = [_combine([products[i] for i in range(size)], a_t[p])
                for p in range(tile)]
    outputs = [ops.stack([_combine([row[j] for j in range(size)], a_t[q])
                          for q in range(tile)], axis=3)
               for row in out_rows]
    outputs = ops.reshape(ops.stack(outputs, axis=2),
                          (-1, tiles_h * tile, tiles_w * tile,
                           transformed_kernel.shape[-1]))
    return outputs[:, :height, :width]


def geometry_mismatch(layer):
    """`(argument, value, supported)` for the first setting of a
    convolution layer that `WinogradConv2D` does not compute (it needs a
    3x3 kernel, strides, dilation and groups 1, "same" padding, channels
    last), or None."""
    geometry = {
        "kernel_size": (tuple(layer.kernel_size), (3, 3)),
        "strides": (tuple(layer.strides), (1, 1)),
        "dilation_rate": (tuple(layer.dilation_rate), (1, 1)),
        "groups": (layer.groups, 1),
        "padding": (layer.padding, "same"),
        "data_format": (layer.data_format, "channels_last"),
    }
    for name, (value, supported) in geometry.items():
        if value != supported:
            return name, value, supported
    return None


def _winograd_bias_activation(inputs, kernel, bias, tile, activation):
    outputs = winograd_conv2d(inputs, winograd_kernel(kernel, tile), tile)
    if bias is not None:
        outputs = ops.add(outputs, bias)
    if activation is not None:
        outputs = activation(outputs)
    return outputs


# (tile, activation) -> one XLA-compiled function (TensorFlow), shared by
# all layers: layers of the same shapes reuse one compiled cluster, which
# halves the paper network's compilation (12 layers, 6 shapes).
_shared_clusters = {}


def _shared_cluster(tile, activation):
    key = (tile, activation)
    if key not in _shared_clusters:
        import tensorflow as tf

        _shared_clusters[key] = tf.function(
            lambda inputs, kernel, bias=None: _winograd_bias_activation(
                inputs, kernel, bias, tile, activation),
            jit_compile=True, autograph=False)
    return _shared_clusters[key]


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class WinogradConv2D(keras.layers.Conv2D):
    """A 3x3 stride-1 "same" `Conv2D` computed by Winograd F(4x4, 3x3).

    Same arguments, weights and outputs (up to float rounding, about 1e-6
    of the outputs in float32) as `keras.layers.Conv2D` with
    `kernel_size=3, padding="same"`; the kernel is transformed on each
    call, so the weights stay those of a plain convolution (trainable,
    importable, exportable).

    Where it runs Winograd:
    - TensorFlow backend: in the XLA cluster, with the bias and the
      activation, when the layer compiles (`jit_compile`, as for the
      pooling layers: by default inside Keras' `predict`/`evaluate`/`fit`
      graphs). Eager calls and exports (`model.export()`, SavedModel,
      TFLite) run the plain convolution, so exported graphs stay portable.
    - Other backends: always (JAX compiles the whole step).
    Inputs with an unknown height or width run the plain convolution.

    Use it for float32 CPU inference; `models.optimize_for_inference`
    picks the layers where it pays. In bfloat16 the transforms' rounding
    is too coarse (`models.with_precision` does not use it).

    Args:
        filters: number of output channels.
        kernel_size: must be 3 (or `(3, 3)`).
        tile: output tile m of F(m x m, 3x3): 4 (default, 4x fewer
            multiplications) or 2 (2.25x fewer, smaller rounding error).
        jit_compile: `"auto"` (default), `True` or `False`, as for
            `MaxPoolingWithArgmax2D`.
        **kwargs: the other `keras.layers.Conv2D` arguments. `strides`,
            `dilation_rate` and `groups` must be 1, `padding` "same",
            `data_format` "channels_last".

    Example:

    >>> conv = WinogradConv2D(64, 3, padding="same", activation="relu")
    >>> conv(np.zeros((2, 28, 28, 128), "float32")).shape
    (2, 28, 28, 64)
    """

    def __init__(self, filters, kernel_size=3, tile=4, jit_compile="auto",
                 **kwargs):
        kwargs.setdefault("padding", "same")
        super().__init__(filters, kernel_size, **kwargs)
        check_tile(tile)
        self.tile = tile
        self.jit_compile = window_utils.check_jit_compile(jit_compile)
        mismatch = geometry_mismatch(self)
        if mismatch is not None:
            name, value, supported = mismatch
            raise ValueError(
                f"WinogradConv2D computes 3x3 stride-1 'same' "
                f"convolutions only; `{name}` must be {supported}. "
                f"Received: {name}={value}"
            )

    def call(self, inputs):
        if None in tuple(inputs.shape[1:3]):
            return super().call(inputs)
        kernel = ops.cast(self.kernel, self.compute_dtype)
        bias = (ops.cast(self.bias, self.compute_dtype) if self.use_bias
                else None)
        if keras.backend.backend() != "tensorflow":
            return _winograd_bias_activation(inputs, kernel, bias, self.tile,
                                             self.activation)
        if window_utils.compiles(self):
            return _shared_cluster(self.tile, self.activation)(
                inputs, kernel, bias)
        return super().call(inputs)

    def get_config(self):
        return {**super().get_config(), "tile": self.tile,
                "jit_compile": self.jit_compile}
