"""A compiled forward pass that leaves the model alone, in float32 or
bfloat16."""

import keras

from keras_deconvnet.layers import jit_compile_override
# Re-exported: the precision helpers lived here first.
from keras_deconvnet.models.precision import PRECISIONS  # noqa: F401
from keras_deconvnet.models.precision import cpu_bf16_support  # noqa: F401
from keras_deconvnet.models.precision import with_precision  # noqa: F401


def compiled_forward(model, training=False):
    """Returns `forward(batch) -> scores`, compiled.

    On TensorFlow the function is the caller's own `tf.function`, traced
    with the (un)pooling layers as XLA clusters (1.2x faster on CPU), so
    the model's own `predict_function` and its layers' `jit_compile` are
    not touched: the user's later `model.predict` runs as before. On JAX
    it is a `jax.jit` of the model's stateless call; on other backends an
    eager call.

    Args:
        model: a Keras model.
        training: the layers' mode (`True`: BN normalises with batch
            statistics). The pass is stateless on every backend: the
            moving statistics that a training-mode call would update are
            discarded, so measuring with batch statistics never changes
            what inference mode reads afterwards.

    Returns:
        A function from a batch (NumPy or a TensorFlow tensor) to the
        model's output, as the backend returns it.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(reduce_retracing=True, autograph=False)
        def predict(batch):
            outputs, _ = model.stateless_call(
                [variable.value for variable in model.trainable_variables],
                [variable.value
                 for variable in model.non_trainable_variables],
                batch, training=training,
            )
            return outputs

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
                trainable, non_trainable, batch, training=training
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
        outputs, _ = model.stateless_call(
            [variable.value for variable in model.trainable_variables],
            [variable.value for variable in model.non_trainable_variables],
            keras.ops.convert_to_numpy(batch), training=training,
        )
        return keras.ops.convert_to_numpy(outputs)

    return forward
