"""Argmax pooling and unpooling as the earlier Keras/TF ports wrote them.

Benchmark code only (TensorFlow). `tf.nn.max_pool_with_argmax` returns
flat int64 indices (batch included), and unpooling scatters the pooled
values to those indices with `tf.scatter_nd`. This is the baseline that
`keras_deconvnet.layers.MaxPoolingWithArgmax2D` + `MaxUnpooling2D` are
measured against. `max_pool_with_argmax` has no XLA kernel, so the
baseline runs under a plain `tf.function`.
"""

import tensorflow as tf


def baseline_pool_with_argmax(inputs, pool_size=2):
    """Returns `(pooled, flat_indices)`, indices int64 including the batch."""
    return tf.nn.max_pool_with_argmax(
        inputs,
        ksize=pool_size,
        strides=pool_size,
        padding="VALID",
        include_batch_in_index=True,
    )


def baseline_unpool(pooled, flat_indices, output_shape):
    """Scatters `pooled` to `flat_indices` in a zero tensor of `output_shape`.

    `output_shape` is the `(batch, height, width, channels)` of the tensor
    before pooling (known statically here; the old ports had to rebuild it
    with `tf.shape`, which is what broke with unknown dimensions).
    """
    total = tf.reduce_prod(output_shape)
    flat = tf.scatter_nd(
        tf.reshape(flat_indices, (-1, 1)),
        tf.reshape(pooled, (-1,)),
        tf.cast(tf.reshape(total, (1,)), flat_indices.dtype),
    )
    return tf.reshape(flat, output_shape)


def baseline_pool_unpool(inputs):
    """Pools with switches, then unpools back to the input shape."""
    pooled, flat_indices = baseline_pool_with_argmax(inputs)
    return baseline_unpool(pooled, flat_indices, tf.shape(inputs, "int64"))
