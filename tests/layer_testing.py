"""Helpers for the keras-hub-style layer tests, backend-agnostic."""

import numpy as np

import keras


def gradient(function, x, upstream):
    """d(sum(function(x) * upstream)) / dx on the current backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        return np.asarray(tape.gradient(y, x, output_gradients=upstream))
    if backend == "jax":
        import jax

        _, pullback = jax.vjp(function, jax.numpy.asarray(x))
        return np.asarray(pullback(jax.numpy.asarray(upstream))[0])
    if backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        y = function(x)
        y.backward(torch.tensor(upstream))
        return x.grad.numpy()
    raise NotImplementedError(backend)


def numpy_max_pool_with_argmax(x, pool_size=(2, 2)):
    """Reference: first maximum per window, row-major window index."""
    batch, height, width, channels = x.shape
    ph, pw = pool_size
    windows = x.reshape(batch, height // ph, ph, width // pw, pw, channels)
    windows = windows.transpose(0, 1, 3, 5, 2, 4).reshape(
        batch, height // ph, width // pw, channels, ph * pw
    )
    switches = windows.argmax(-1)  # NumPy returns the first maximum.
    pooled = np.take_along_axis(windows, switches[..., None], -1)[..., 0]
    return pooled, switches.astype(np.int32)


def numpy_unpool(values, switches, pool_size=(2, 2)):
    """Reference: scatter each value to its window position, loop form."""
    batch, height, width, channels = values.shape
    ph, pw = pool_size
    out = np.zeros((batch, height * ph, width * pw, channels), values.dtype)
    for b, i, j, c in np.ndindex(values.shape):
        row, column = divmod(int(switches[b, i, j, c]), pw)
        out[b, i * ph + row, j * pw + column, c] = values[b, i, j, c]
    return out


def random_with_ties(rng, shape):
    """Values on a coarse grid (many ties) including ReLU-style zeros."""
    x = rng.integers(-2, 3, size=shape).astype("float32")
    return np.maximum(x, 0.0)


def make_informative(model, images, seed=0):
    """Gives a fresh model weights whose outputs are of order one.

    A freshly built DeconvNet in inference mode outputs values near 1e-15
    (std-0.01 decoder, BN moving statistics 0 and 1), which would make any
    tolerance comparison pass trivially. He-scaled kernels, random biases
    and random BN parameters and statistics keep activations at a steady
    scale through the depth; the score layer is then scaled so that the
    scores on `images` are at most one in magnitude.
    """
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            kernel = np.asarray(layer.kernel)
            height, width = kernel.shape[:2]
            fan_in = height * width * (
                kernel.shape[2]
                if isinstance(layer, keras.layers.Conv2D)
                and not isinstance(layer, keras.layers.Conv2DTranspose)
                else kernel.shape[3]
            )
            values = [rng.normal(0, np.sqrt(2.0 / fan_in), kernel.shape)]
            if layer.use_bias:
                values.append(rng.normal(0, 0.1, layer.bias.shape))
            layer.set_weights([v.astype("float32") for v in values])
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, channels).astype("float32"),
                    rng.normal(0, 0.1, channels).astype("float32"),
                    rng.normal(0, 0.1, channels).astype("float32"),
                    rng.uniform(0.5, 2.0, channels).astype("float32"),
                ]
            )
    # Scores of order one, so that absolute tolerances mean something.
    scale = float(np.abs(np.asarray(model(images, training=False))).max())
    last = model.layers[-1]
    if last.weights and scale > 0:
        last.set_weights([np.asarray(w) / scale for w in last.weights])
    return model
