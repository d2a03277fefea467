"""Shape checks and XLA dispatch shared by the pooling, unpooling and
Winograd layers."""

import contextlib
import contextvars
import weakref

import keras


def normalize_pair(value, argument_name):
    """Returns `value` as a tuple of two positive ints, or raises."""
    if isinstance(value, int) and not isinstance(value, bool):
        pair = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = tuple(value)
    else:
        raise ValueError(
            f"`{argument_name}` must be an int or a tuple of 2 ints. "
            f"Received: {argument_name}={value}"
        )
    for item in pair:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise ValueError(
                f"`{argument_name}` must contain positive ints. "
                f"Received: {argument_name}={value}"
            )
    return pair


def check_rank_4(shape, layer_name, input_name):
    if shape is None or len(shape) != 4:
        raise ValueError(
            f"Layer '{layer_name}' expects `{input_name}` of rank 4 "
            "(batch, height, width, channels). "
            f"Received: {input_name}.shape={shape}"
        )


def check_tiled_input(shape, pool_size, layer_name, input_name):
    """Raises unless `shape` is rank 4 with sizes the window tiles."""
    check_rank_4(shape, layer_name, input_name)
    for axis, (size, window) in enumerate(zip(shape[1:3], pool_size), 1):
        if size is not None and size % window:
            raise ValueError(
                f"Layer '{layer_name}' needs spatial sizes that are "
                f"multiples of pool_size={pool_size}, but axis {axis} of "
                f"`{input_name}` has size {size}. Resize or pad the input "
                "(DeconvNet inputs are multiples of 32). "
                f"Received: {input_name}.shape={shape}"
            )


def pooled_shape(shape, pool_size):
    def divide(size, window):
        return None if size is None else size // window

    return (
        shape[0],
        divide(shape[1], pool_size[0]),
        divide(shape[2], pool_size[1]),
        shape[3],
    )


def unpooled_shape(shape, pool_size):
    def multiply(size, window):
        return None if size is None else size * window

    return (
        shape[0],
        multiply(shape[1], pool_size[0]),
        multiply(shape[2], pool_size[1]),
        shape[3],
    )


# Layer -> its XLA-compiled computation (TensorFlow backend only). The
# values hold the layer only weakly, so the cache frees dropped layers.
_compiled_functions = weakref.WeakKeyDictionary()

# When set, overrides every layer's `jit_compile` while graphs are traced.
_jit_compile_override = contextvars.ContextVar(
    "pooling_jit_compile_override", default=None
)


@contextlib.contextmanager
def jit_compile_override(enabled):
    """Within the block, traced graphs use `enabled` for every layer.

    The layers' own `jit_compile` attributes are not changed, so another
    user of the same layers (a model's own `predict`) is not affected.
    """
    token = _jit_compile_override.set(bool(enabled))
    try:
        yield
    finally:
        _jit_compile_override.reset(token)


def _compiled(layer, function):
    compiled = _compiled_functions.get(layer)
    if compiled is None:
        import tensorflow as tf

        # A bound method (`layer._pool`) would hold the layer strongly
        # from the cache's value, so the weak key would never die.
        unbound = getattr(function, "__func__", None)
        if unbound is not None and function.__self__ is layer:
            layer_reference = weakref.ref(layer)

            def function(*tensors):
                return unbound(layer_reference(), *tensors)

        compiled = tf.function(function, jit_compile=True, autograph=False)
        _compiled_functions[layer] = compiled
    return compiled


# Graphs Keras' own `fit`, `evaluate`, `predict` and `*_on_batch` trace
# (TensorFlow backend): where `jit_compile="auto"` uses XLA.
KERAS_STEP_GRAPHS = ("one_step_on_data", "one_step_on_data_distributed",
                     "multi_step_on_iterator", "multi_step_on_data")


def check_jit_compile(value):
    """Returns `value` as `True`, `False` or `"auto"`, or raises."""
    if isinstance(value, bool) or (isinstance(value, str)
                                   and value == "auto"):
        return value
    raise ValueError(
        f"`jit_compile` must be True, False or 'auto'. "
        f"Received: jit_compile={value!r}"
    )


def _in_keras_step():
    """Whether the graph being traced belongs to a Keras train/test/predict
    function (not to an export, `tf.saved_model.save` or TFLite)."""
    import tensorflow as tf

    graph = tf.compat.v1.get_default_graph()
    while graph is not None:
        if getattr(graph, "name", None) in KERAS_STEP_GRAPHS:
            return True
        graph = getattr(graph, "outer_graph", None)
    return False


def compiles(layer):
    """Whether `layer` runs as an XLA cluster in the graph being traced.

    True with `layer.jit_compile` (or inside `jit_compile_override(True)`)
    on the TensorFlow backend, inside a traced graph; for
    `jit_compile="auto"` (the default) only inside the graphs of Keras'
    `fit`/`evaluate`/`predict`/`*_on_batch`, so that `model.export()`,
    `tf.saved_model.save` and the TFLite converter, which trace other
    graphs, get portable graphs without XLA. False for eager calls and on
    other backends (JAX compiles everything anyway).
    """
    enabled = _jit_compile_override.get()
    if enabled is None:
        enabled = layer.jit_compile
    if not enabled or keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    if tf.executing_eagerly():
        return False
    return enabled != "auto" or _in_keras_step()


def run_maybe_compiled(layer, function, *tensors):
    """Runs `function(*tensors)`, as an XLA cluster when `compiles(layer)`.

    For the pooling layers the comparison chain and selects fuse into one
    loop while the convolutions around them stay on oneDNN: on CPU the
    pooling + unpooling forward ran 13x faster (8x112x112x128) and the
    paper network's forward 1.17x faster at batch 8.
    """
    if compiles(layer):
        return _compiled(layer, function)(*tensors)
    return function(*tensors)
