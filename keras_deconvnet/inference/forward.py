"""A compiled inference-mode forward pass that leaves the model alone."""

import keras

from keras_deconvnet.layers import jit_compile_override


def compiled_forward(model):
    """Returns `forward(batch) -> scores`, compiled, in inference mode.

    On TensorFlow the function is the caller's own `tf.function`, traced
    with the (un)pooling layers as XLA clusters (1.2x faster on CPU), so
    the model's own `predict_function` and its layers' `jit_compile` are
    not touched: the user's later `model.predict` runs as before. On JAX
    it is a `jax.jit` of the model's stateless call; on other backends an
    eager call.

    Args:
        model: a Keras model.

    Returns:
        A function from a batch (NumPy or a TensorFlow tensor) to the
        model's output, as the backend returns it.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(reduce_retracing=True, autograph=False)
        def predict(batch):
            return model(batch, training=False)

        def forward(batch):
            # Read while tracing: a new batch shape retraces with XLA too.
            with jit_compile_override(True):
                return predict(batch)

        return forward
    if backend == "jax":
        import jax

        @jax.jit
        def predict(trainable, non_trainable, batch):
            outputs, _ = model.stateless_call(
                trainable, non_trainable, batch, training=False
            )
            return outputs

        def forward(batch):
            outputs = predict(
                [variable.value for variable in model.trainable_variables],
                [variable.value for variable in model.non_trainable_variables],
                keras.ops.convert_to_numpy(batch),
            )
            return keras.ops.convert_to_numpy(outputs)

        return forward

    def forward(batch):
        batch = keras.ops.convert_to_numpy(batch)
        return keras.ops.convert_to_numpy(model(batch, training=False))

    return forward
