"""Max pooling that also returns where each maximum was (the "switches")."""

import keras
from keras import ops

from keras_deconvnet.layers import window_utils


@keras.saving.register_keras_serializable(package="keras_deconvnet")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """Non-overlapping max pooling that records the switches.

    DeconvNet (Noh, Hong and Han, ICCV 2015) remembers, for every pooled
    value, which position of its window held the maximum, so that
    `MaxUnpooling2D` can put the value back there. The switches are stored
    as the index of that position *inside its own window*, in row-major
    order (`row * pool_width + column`), in the value's own channel. On
    ties the first position in row-major order wins, like Caffe's strict
    `>` comparison and PyTorch's `MaxPool2d(return_indices=True)`.

    Window-local indices are small integers, so they are exact in any
    dtype, need no batch or channel offsets, and unpool with plain
    element-wise ops. The layer is written with `keras.ops` only: it runs on
    the TensorFlow, JAX and PyTorch backends, compiles under XLA and
    converts to TFLite with builtin ops (no `tf.nn.max_pool_with_argmax`,
    which has neither an XLA kernel nor a TFLite builtin).

    The gradient of the pooled output flows to exactly one position per
    window (the recorded switch), on every backend.

    Args:
        pool_size: int or tuple of 2 ints, the window size.
        strides: int or tuple of 2 ints, or `None` for `pool_size`. Must
            equal `pool_size`: unpooling is only defined for windows that
            tile the input without overlap.
        jit_compile: on the TensorFlow backend, run the layer as an XLA
            cluster inside traced graphs (about 13x faster on CPU than the
            plain ops; the convolutions around it keep oneDNN). `"auto"`
            (default): only in the graphs of Keras' `fit`, `evaluate`,
            `predict` and `*_on_batch`, so `model.export()`,
            `tf.saved_model.save` and TFLite get portable graphs without
            XLA; `True`: in every traced graph (the package's exports
            still turn it off); `False`: never. Ignored on other backends
            and in eager calls.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        4D tensor `(batch, height, width, channels)`; `height` and `width`
        must be multiples of the pool size.

    Output shape:
        A list `[pooled, switches]`, both
        `(batch, height // pool_height, width // pool_width, channels)`.
        `pooled` has the input's dtype, `switches` is `int32`.

    Example:

    >>> x = np.random.rand(2, 8, 8, 3).astype("float32")
    >>> pooled, switches = MaxPoolingWithArgmax2D()(x)
    >>> restored = MaxUnpooling2D()(pooled, switches)
    """

    def __init__(self, pool_size=2, strides=None, jit_compile="auto",
                 **kwargs):
        super().__init__(**kwargs)
        self.jit_compile = window_utils.check_jit_compile(jit_compile)
        self.pool_size = window_utils.normalize_pair(pool_size, "pool_size")
        if strides is None:
            strides = self.pool_size
        self.strides = window_utils.normalize_pair(strides, "strides")
        if self.strides != self.pool_size:
            raise ValueError(
                "MaxPoolingWithArgmax2D supports only non-overlapping "
                "windows (strides equal to pool_size), because unpooling "
                "is undefined where windows overlap. Received: "
                f"pool_size={pool_size}, strides={strides}"
            )

    def build(self, input_shape):
        window_utils.check_tiled_input(
            input_shape, self.pool_size, self.name, "inputs"
        )
        self.built = True

    def call(self, inputs):
        window_utils.check_tiled_input(
            inputs.shape, self.pool_size, self.name, "inputs"
        )
        return window_utils.run_maybe_compiled(self, self._pool, inputs)

    def _pool(self, inputs):
        pool_height, pool_width = self.pool_size
        # One strided view per window position, row-major: position k sees
        # element (k // pool_width, k % pool_width) of every window.
        positions = [
            inputs[:, row::pool_height, column::pool_width, :]
            for row in range(pool_height)
            for column in range(pool_width)
        ]
        window_max = positions[0]
        for position in positions[1:]:
            window_max = ops.maximum(window_max, position)
        window_max = ops.stop_gradient(window_max)
        # First maximum by a chain of comparisons (much faster under XLA
        # than argmax, and builtin-only in TFLite). Built from the last
        # position backwards so the first match wins.
        last = len(positions) - 1
        switches = ops.full_like(window_max, last, dtype="int32")
        pooled = positions[last]
        for index in range(last - 1, -1, -1):
            is_max = ops.equal(positions[index], window_max)
            switches = ops.where(is_max, index, switches)
            pooled = ops.where(is_max, positions[index], pooled)
        return [pooled, ops.cast(switches, "int32")]

    def compute_output_shape(self, input_shape):
        output_shape = window_utils.pooled_shape(input_shape, self.pool_size)
        return [output_shape, output_shape]

    def compute_output_spec(self, inputs):
        output_shape = window_utils.pooled_shape(inputs.shape, self.pool_size)
        return [
            keras.KerasTensor(output_shape, dtype=inputs.dtype),
            keras.KerasTensor(output_shape, dtype="int32"),
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "jit_compile": self.jit_compile,
        }
