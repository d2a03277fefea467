"""Unpooling with the switches recorded by `MaxPoolingWithArgmax2D`."""

import keras
from keras import ops

from keras_deconvnet.layers import window_utils


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class MaxUnpooling2D(keras.layers.Layer):
    """Puts every value back where its window's maximum was.

    The unpooling of DeconvNet (Noh, Hong and Han, ICCV 2015; Caffe's
    `unpooling_layer.cpp`, PyTorch's `MaxUnpool2d`): each input value is
    written to the position, inside its own `pool_size` window and channel,
    that the matching `MaxPoolingWithArgmax2D` recorded; the other
    positions of the window are zero. Switches are window-local indices in
    row-major order, so exactly one position receives each value.

    Written with `keras.ops` element-wise selects and reshapes only: no
    scatter, so it compiles under XLA, has an exact gradient (the output
    gradient at the switch position), works with an unknown batch size and
    converts to TFLite with builtin ops.

    Args:
        pool_size: int or tuple of 2 ints; must match the pooling layer.
        jit_compile: as in `MaxPoolingWithArgmax2D`: an XLA cluster inside
            traced TensorFlow graphs.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: 4D tensor `(batch, height, width, channels)` of values, or a
            list `[values, switches]`.
        switches: integer tensor of the same shape, with entries in
            `[0, pool_height * pool_width)`. Omit when `inputs` is a list.

    Output shape:
        `(batch, height * pool_height, width * pool_width, channels)`, the
        dtype of the values.

    Example:

    >>> x = np.random.rand(2, 8, 8, 3).astype("float32")
    >>> pooled, switches = MaxPoolingWithArgmax2D()(x)
    >>> MaxUnpooling2D()(pooled, switches).shape
    TensorShape([2, 8, 8, 3])
    """

    def __init__(self, pool_size=2, jit_compile="auto", **kwargs):
        super().__init__(**kwargs)
        self.jit_compile = window_utils.check_jit_compile(jit_compile)
        self.pool_size = window_utils.normalize_pair(pool_size, "pool_size")

    def _split(self, inputs, switches):
        if switches is None:
            if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
                raise ValueError(
                    f"Layer '{self.name}' expects `(values, switches)`: call "
                    "it as `layer(values, switches)` or "
                    "`layer([values, switches])`. Received: inputs of type "
                    f"{type(inputs).__name__}"
                )
            inputs, switches = inputs
        return inputs, switches

    def _check_shapes(self, values_shape, switches_shape):
        window_utils.check_rank_4(values_shape, self.name, "values")
        window_utils.check_rank_4(switches_shape, self.name, "switches")
        for axis in range(1, 4):
            a, b = values_shape[axis], switches_shape[axis]
            if a is not None and b is not None and a != b:
                raise ValueError(
                    f"Layer '{self.name}' needs `switches` of the same shape "
                    f"as `values` (axis {axis} differs). Received: "
                    f"values.shape={values_shape}, "
                    f"switches.shape={switches_shape}"
                )

    def build(self, inputs_shape, switches_shape=None):
        if switches_shape is None:
            inputs_shape, switches_shape = self._split(inputs_shape, None)
        self._check_shapes(tuple(inputs_shape), tuple(switches_shape))
        self.built = True

    def call(self, inputs, switches=None):
        values, switches = self._split(inputs, switches)
        self._check_shapes(tuple(values.shape), tuple(switches.shape))
        if "int" not in keras.backend.standardize_dtype(switches.dtype):
            raise ValueError(
                f"Layer '{self.name}' needs integer `switches` (window "
                "positions from MaxPoolingWithArgmax2D). Received: "
                f"switches.dtype={switches.dtype}"
            )
        return window_utils.run_maybe_compiled(
            self, self._unpool, values, ops.cast(switches, "int32")
        )

    def _unpool(self, values, switches):
        pool_height, pool_width = self.pool_size
        zeros = ops.zeros_like(values)
        shape = ops.shape(values)
        height, width, channels = shape[1], shape[2], shape[3]
        rows = []
        for row in range(pool_height):
            columns = [
                ops.where(
                    ops.equal(switches, row * pool_width + column),
                    values,
                    zeros,
                )
                for column in range(pool_width)
            ]
            # Interleave the columns of this window row: (h, w * pw).
            stacked = ops.stack(columns, axis=3)
            rows.append(
                ops.reshape(stacked, (-1, height, width * pool_width, channels))
            )
        # Interleave the window rows: (h * ph, w * pw).
        stacked = ops.stack(rows, axis=2)
        return ops.reshape(
            stacked,
            (-1, height * pool_height, width * pool_width, channels),
        )

    def compute_output_shape(self, inputs_shape, switches_shape=None):
        if switches_shape is None:
            inputs_shape, _ = self._split(inputs_shape, None)
        return window_utils.unpooled_shape(inputs_shape, self.pool_size)

    def compute_output_spec(self, inputs, switches=None):
        values, switches = self._split(inputs, switches)
        self._check_shapes(tuple(values.shape), tuple(switches.shape))
        return keras.KerasTensor(
            window_utils.unpooled_shape(values.shape, self.pool_size),
            dtype=values.dtype,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "jit_compile": self.jit_compile,
        }
