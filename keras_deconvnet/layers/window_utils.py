"""Shape checks shared by the pooling and unpooling layers."""


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
